//! The retriever on the sample library with the tiny checkpoint (CPU), checked against
//! scores computed here independently: embeddings straight from the Embedder (and from the
//! transformers reference fixtures), brute-force cosine, and the seed's bonus rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use demo_retriever::{
    Bonuses, Demo, DemoProblem, DemoRetriever, EmbedBatch, Query, Rerank, RetrievalResult, RetrieverError,
    RetrieverSettings, read_library,
};
use qwen3_vl_embedder::{DeviceChoice, EmbedError, EmbedInput, Embedder, EmbedderOptions, start_device};
use reference_fixtures::{Reference, cases, fixtures_dir, max_abs_diff, tiny_model_dir};

const TOL: f32 = 1e-5;
const MODEL: &str = "tiny-embedding";

fn embedder() -> &'static Embedder {
    static E: OnceLock<Embedder> = OnceLock::new();
    E.get_or_init(|| {
        let device = start_device(DeviceChoice::Cpu).unwrap();
        Embedder::from_dir(&tiny_model_dir(), &device.device, EmbedderOptions::default()).unwrap()
    })
}

fn library_dir() -> PathBuf {
    fixtures_dir().join("demo-library")
}

fn sample_demos() -> Vec<Demo> {
    let lib = read_library(&library_dir().join("episodes")).unwrap();
    assert!(lib.errors.is_empty(), "{:?}", lib.errors);
    lib.demos
}

fn more_demos() -> Vec<Demo> {
    read_library(&library_dir().join("more.jsonl")).unwrap().demos
}

fn built(demos: Vec<Demo>) -> DemoRetriever {
    let mut r = DemoRetriever::new(RetrieverSettings::new(MODEL, 64)).unwrap();
    r.add_demos(demos).unwrap();
    r.build_index(embedder(), 3, &mut |_| {}).unwrap();
    r
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demo-retriever-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Which context rule a brute-force ranking applies.
#[derive(Clone, Copy, PartialEq)]
enum Rule {
    /// The seed's: the app context contained in the app name (case-insensitive); the domain
    /// context a run of whole labels of the demo's domain (our tightening of the seed's
    /// substring test), `www.` stripped.
    Seed,
    /// The rule this crate had before: both equal, case-insensitively.
    Exact,
}

/// Whether `context` matches `value` under `rule`, written out independently of `score.rs`.
fn context_matches(rule: Rule, is_domain: bool, context: &Option<String>, value: &Option<String>) -> bool {
    let (Some(c), Some(v)) = (context, value) else { return false };
    let clean = |s: &str| {
        let s = s.trim().to_lowercase();
        if is_domain { s.strip_prefix("www.").unwrap_or(&s).to_owned() } else { s }
    };
    let (c, v) = (clean(c), clean(v));
    match (rule, is_domain) {
        (_, _) if c.is_empty() => false,
        (Rule::Exact, _) => c == v,
        (Rule::Seed, false) => v.contains(&c),
        (Rule::Seed, true) => format!(".{v}.").contains(&format!(".{c}.")),
    }
}

/// The expected ranking: every demo embedded on its own, cosine by brute force, the seed's
/// bonuses, sorted by score then id.
fn brute_force(demos: &[Demo], query: &Query, bonuses: Bonuses) -> Vec<(String, f32, f32)> {
    brute_force_with(Rule::Seed, demos, query, bonuses)
}

fn brute_force_with(rule: Rule, demos: &[Demo], query: &Query, bonuses: Bonuses) -> Vec<(String, f32, f32)> {
    let instruction = demo_retriever::DEFAULT_INSTRUCTION;
    let q = EmbedInput {
        text: query.task.clone(),
        images: query.screenshot.iter().cloned().collect(),
        instruction: Some(query.instruction.clone().unwrap_or(instruction.into())),
    };
    let qv = embedder().embed(&q, Some(64)).unwrap();
    let mut scored: Vec<(String, f32, f32)> = demos
        .iter()
        .map(|d| {
            let mut input = EmbedInput::text(d.goal.clone()).with_instruction(instruction);
            if let Some(p) = &d.screenshot_path {
                input.images.push(std::fs::read(p).unwrap());
            }
            let cos = dot(&qv, &embedder().embed(&input, Some(64)).unwrap());
            let mut bonus = 0.0;
            if context_matches(rule, false, &query.app_context, &d.app_name) {
                bonus += bonuses.app;
            }
            if context_matches(rule, true, &query.domain_context, &d.domain) {
                bonus += bonuses.domain;
            }
            (d.demo_id.clone(), cos + bonus, cos)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(query.top_k);
    scored
}

fn assert_same(got: &[RetrievalResult], want: &[(String, f32, f32)], what: &str) {
    let ids: Vec<&str> = got.iter().map(|r| r.demo.demo_id.as_str()).collect();
    let want_ids: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
    assert_eq!(ids, want_ids, "{what}: ranking");
    for (i, (r, (_, score, cos))) in got.iter().zip(want).enumerate() {
        assert_eq!(r.rank, i + 1);
        assert!((r.score - score).abs() <= TOL, "{what}: {} score {} vs {score}", r.demo.demo_id, r.score);
        assert!(
            (r.embedding_score - cos).abs() <= TOL,
            "{what}: {} cosine {} vs {cos}",
            r.demo.demo_id,
            r.embedding_score
        );
        assert_eq!(r.rerank_score, None);
    }
}

fn screenshot(name: &str) -> Vec<u8> {
    std::fs::read(library_dir().join("screenshots").join(name)).unwrap()
}

fn queries() -> Vec<(&'static str, Query)> {
    vec![
        ("text", Query::text("Turn off Night Shift").top_k(5)),
        ("text top 3", Query::text("send an email").top_k(3)),
        ("image", Query::screenshot(screenshot("github_star.png")).top_k(5)),
        ("text+image", Query::text("Star this repository").with_screenshot(screenshot("github_star.png")).top_k(4)),
        ("app bonus", Query::text("Save my file").app("NOTEPAD.EXE").top_k(5)),
        ("domain bonus", Query::text("Write to Bob").domain("www.mail.google.com").app("Finder").top_k(5)),
        ("query instruction", Query::text("Create a folder").instruction("Find the matching demo").top_k(5)),
        ("app contained", Query::text("Turn off Night Shift").app("chrome").top_k(5)),
        ("domain labels", Query::text("Turn off Night Shift").domain("google.com").top_k(5)),
        ("domain half label", Query::text("Turn off Night Shift").domain("oogle.com").top_k(5)),
    ]
}

#[test]
fn sample_library_metadata_follows_the_seed_rules() {
    let demos = sample_demos();
    let by_id: BTreeMap<&str, &Demo> = demos.iter().map(|d| (d.demo_id.as_str(), d)).collect();
    assert_eq!(by_id.len(), 5);
    let gh = by_id["web_github_star"];
    assert_eq!(
        (gh.platform.as_str(), gh.domain.as_deref(), gh.app_name.as_deref()),
        ("web", Some("github.com"), Some("Safari"))
    );
    assert!(gh.screenshot_path.as_ref().unwrap().ends_with("screenshots/github_star.png"));
    assert!(gh.screenshot_path.as_ref().unwrap().is_absolute());
    assert_eq!(by_id["macos_night_shift"].platform, "macos");
    assert_eq!(by_id["windows_notepad_save"].platform, "windows");
    assert_eq!(by_id["web_gmail_compose"].domain.as_deref(), Some("mail.google.com"));
    let more = more_demos();
    assert_eq!(more.len(), 2);
    assert!(more.iter().all(|d| d.screenshot_path.as_ref().is_some_and(|p| p.is_file())), "jsonl paths resolve");
}

#[test]
fn retrieval_equals_brute_force_cosine_plus_bonuses() {
    let demos = sample_demos();
    let r = built(demos.clone());
    for (what, query) in queries() {
        let got = r.retrieve(embedder(), &query, None).unwrap();
        assert_same(&got, &brute_force(&demos, &query, Bonuses::default()), what);
    }
    // Configurable bonuses: a large app bonus lifts the app's only demo to the top.
    let mut r = r;
    let bonuses = Bonuses { app: 2.0, domain: 0.5 };
    r.set_bonuses(bonuses);
    let query = Query::text("Turn off Night Shift").app("Paint").domain("github.com").top_k(2);
    let got = r.retrieve(embedder(), &query, None).unwrap();
    assert_same(&got, &brute_force(&demos, &query, bonuses), "custom bonuses");
    assert_eq!(got[0].demo.demo_id, "web_github_star");
    let episodes = r.retrieve_episodes(embedder(), &query, None).unwrap();
    assert_eq!(episodes[0]["episode_id"], "web_github_star");
}

/// The seed's containment rules rank differently from exact matching: `chrome` earns the app
/// bonus for `Google Chrome`, `google.com` the domain bonus for `mail.google.com`.
#[test]
fn seed_containment_rules_rank_where_exact_matching_would_not() {
    let demos = sample_demos();
    let mut r = built(demos.clone());
    let bonuses = Bonuses { app: 2.0, domain: 2.0 };
    r.set_bonuses(bonuses);
    for (query, winner) in [
        (Query::text("Turn off Night Shift").app("chrome").top_k(3), "web_gmail_compose"),
        (Query::text("Turn off Night Shift").domain("google.com").top_k(3), "web_gmail_compose"),
    ] {
        let got = r.retrieve(embedder(), &query, None).unwrap();
        let want = brute_force(&demos, &query, bonuses);
        assert_same(&got, &want, "seed rule");
        assert_eq!(got[0].demo.demo_id, winner);
        let exact = brute_force_with(Rule::Exact, &demos, &query, bonuses);
        assert_ne!(exact[0].0, winner, "exact matching would not have put {winner} first");
    }
}

#[test]
fn stored_and_query_embeddings_equal_the_transformers_reference() {
    // A demo whose goal, screenshot and instruction are exactly reference case `text_image`.
    let case = cases().into_iter().find(|c| c.name == "text_image").unwrap();
    let input = &case.inputs[0];
    let dir = temp_dir("reference");
    std::fs::create_dir_all(&dir).unwrap();
    let episode = serde_json::json!({
        "episode_id": "ref_case",
        "instruction": input.text.clone().unwrap(),
        "steps": [{"observation": {"screenshot_path": fixtures_dir().join(&input.images[0])}, "action": null}],
    });
    std::fs::write(dir.join("ref_case.json"), episode.to_string()).unwrap();
    let settings = RetrieverSettings::new(MODEL, 64).with_instruction(input.instruction.clone().unwrap());
    let mut r = DemoRetriever::new(settings).unwrap();
    r.add_demos(read_library(&dir).unwrap().demos).unwrap();
    r.add_demos(sample_demos()).unwrap();
    r.build_index(embedder(), 4, &mut |_| {}).unwrap();
    let want = Reference::load("text_image").float("embedding").values.clone();
    let err = max_abs_diff(r.embedding("ref_case").unwrap(), &want);
    assert!(err <= TOL, "stored embedding vs transformers: {err:e}");

    // A query that is exactly reference case `text`: its score is the dot of two reference vectors.
    let text = cases().into_iter().find(|c| c.name == "text").unwrap().inputs[0].clone();
    let query = Query::text(text.text.unwrap()).instruction(text.instruction.unwrap()).top_k(6);
    let hits = r.retrieve(embedder(), &query, None).unwrap();
    let hit = hits.iter().find(|h| h.demo.demo_id == "ref_case").unwrap();
    let expected = dot(&Reference::load("text").float("embedding").values, &want);
    assert!((hit.embedding_score - expected).abs() <= TOL, "{} vs {expected}", hit.embedding_score);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ids and scores of every query, for comparing two retrievers.
fn answers(r: &DemoRetriever) -> Vec<Vec<(String, f32)>> {
    queries()
        .into_iter()
        .map(|(_, q)| {
            r.retrieve(embedder(), &q.top_k(10), None).unwrap().into_iter().map(|h| (h.demo.demo_id, h.score)).collect()
        })
        .collect()
}

#[test]
fn save_load_add_equals_a_fresh_build_and_unchanged_demos_are_not_reembedded() {
    let dir = temp_dir("persist");
    let first = built(sample_demos());
    assert_eq!(first.cache().stats().misses, 5);
    first.save(&dir).unwrap();
    // The layout the store's docs give: the manifest, generation 1, one demo file per demo.
    for f in ["manifest.json", "gen-1/index.json", "gen-1/embeddings.npy", "gen-1/ids", "gen-1/embedding_cache.jsonl"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert_eq!(std::fs::read_dir(dir.join("demos")).unwrap().count(), 5);

    let mut loaded = DemoRetriever::load(&dir).unwrap();
    assert_eq!((loaded.len(), loaded.settings().dim), (5, 64));
    assert_eq!(answers(&loaded)[..3], answers(&first)[..3]);
    loaded.add_demos(more_demos()).unwrap();
    loaded.add_demos(sample_demos()).unwrap(); // unchanged: must come from the cache
    let mut calls = Vec::new();
    let report = loaded.build_index(embedder(), 8, &mut |p| calls.push(p)).unwrap();
    assert_eq!((report.embedded, report.reused), (2, 5));
    assert_eq!(loaded.cache().stats().misses, 2, "only the two new demos were embedded");
    assert_eq!(calls.last().map(|p| (p.done, p.total)), Some((2, 2)));
    loaded.save(&dir).unwrap();
    // Generation 2 replaced generation 1, whose files are gone; the two new demos' files joined.
    assert!(dir.join("gen-2/index.json").is_file() && !dir.join("gen-1").exists());
    assert_eq!(std::fs::read_dir(dir.join("demos")).unwrap().count(), 7);

    let fresh = built(sample_demos().into_iter().chain(more_demos()).collect());
    let reloaded = DemoRetriever::load(&dir).unwrap();
    assert_eq!(reloaded.len(), 7);
    let (a, b) = (answers(&reloaded), answers(&fresh));
    for (x, y) in a.iter().zip(&b) {
        let ids = |v: &Vec<(String, f32)>| v.iter().map(|p| p.0.clone()).collect::<Vec<_>>();
        assert_eq!(ids(x), ids(y));
        for (p, q) in x.iter().zip(y) {
            assert!((p.1 - q.1).abs() <= 1e-6, "{} {} vs {}", p.0, p.1, q.1);
        }
    }

    // Re-indexing the unchanged library from a fresh process embeds nothing.
    let mut again = DemoRetriever::load(&dir).unwrap();
    again.clear().unwrap();
    again.add_demos(sample_demos().into_iter().chain(more_demos())).unwrap();
    let report = again.build_index(embedder(), 8, &mut |_| {}).unwrap();
    assert_eq!((report.embedded, again.cache().stats().misses, again.cache().stats().hits), (0, 0, 7));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Embeds every input as a fixed vector chosen by its text, so many demos cost nothing.
struct Fake;

impl EmbedBatch for Fake {
    fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(inputs
            .iter()
            .map(|i| {
                let n: u32 = i.text.as_deref().unwrap_or("").trim_start_matches("goal ").parse().unwrap_or(0);
                (0..dim).map(|k| (((n as usize * 31 + k * 17) % 97) as f32 - 48.0) / 48.0).collect()
            })
            .collect())
    }
}

/// Scores a document by the number in its goal: `(n * 37 % 101) / 100`, so the reranker's
/// order has nothing to do with the embedding's.
struct FakeReranker;

impl Rerank for FakeReranker {
    fn rerank(&self, _query: &EmbedInput, documents: &[EmbedInput]) -> demo_retriever::Result<Vec<f32>> {
        let n = |d: &EmbedInput| -> u32 { d.text.as_deref().unwrap().trim_start_matches("goal ").parse().unwrap() };
        Ok(documents.iter().map(|d| (n(d) * 37 % 101) as f32 / 100.0).collect())
    }
}

/// A retriever over `count` demos `d000..` with goals `goal N`, the app `Rare` where `rare(N)`
/// (else `Common`), embedded by [`Fake`].
fn fake_library(name: &str, count: usize, rare: fn(usize) -> bool) -> (PathBuf, DemoRetriever) {
    let dir = temp_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let lines: Vec<String> = (0..count)
        .map(|n| {
            let app = if rare(n) { "Rare" } else { "Common" };
            serde_json::json!({"episode_id": format!("d{n:03}"), "instruction": format!("goal {n}"),
                "steps": [{"observation": {"app_name": app}}]})
            .to_string()
        })
        .collect();
    std::fs::write(dir.join("lib.jsonl"), lines.join("\n")).unwrap();
    let mut r = DemoRetriever::new(RetrieverSettings::new("fake", 16)).unwrap();
    r.add_demos(read_library(&dir.join("lib.jsonl")).unwrap().demos).unwrap();
    r.build_index(&Fake, 64, &mut |_| {}).unwrap();
    (dir, r)
}

#[test]
fn reranking_in_two_halves_equals_a_blocking_reranker_and_follows_the_seed_rule() {
    let (dir, mut r) = fake_library("rerank", 300, |n| n % 50 == 0);
    r.set_rerank_top_n(20);
    let query = Query::text("goal 7").app("rare").top_k(5).reranked();
    let blocking = r.retrieve(&Fake, &query, Some(&FakeReranker)).unwrap();

    // The caller that cannot block: it embeds the query and scores the documents itself.
    let vector = Fake.embed_inputs(&[r.query_input(&query).unwrap()], 16).unwrap().remove(0);
    let request = r.rerank_request(&vector, &query).unwrap();
    assert_eq!(request.documents.len(), 20, "rerank_top_n documents");
    assert!(request.missing_screenshots.is_empty(), "these demos have no screenshots");
    let scores = FakeReranker.rerank(&request.query, &request.documents).unwrap();
    let halves = r.finish_rerank(request.clone(), &scores).unwrap();
    assert_eq!(blocking, halves);

    // The seed's rule, checked here by hand: the 20 best by cosine + bonus are rescored, and
    // they rank by reranker score + bonus (ties by id).
    let plain = r.retrieve(&Fake, &Query { rerank: false, top_k: 20, ..query.clone() }, None).unwrap();
    let mut want: Vec<(f32, String)> = plain
        .iter()
        .map(|p| {
            let n: u32 = p.demo.goal.trim_start_matches("goal ").parse().unwrap();
            let bonus = if p.demo.app_name.as_deref() == Some("Rare") { 0.1 } else { 0.0 };
            ((n * 37 % 101) as f32 / 100.0 + bonus, p.demo.demo_id.clone())
        })
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let got: Vec<(f32, String)> = halves.iter().map(|h| (h.score, h.demo.demo_id.clone())).collect();
    assert_eq!(got, want[..5].to_vec());
    assert!(halves.iter().all(|h| h.rerank_score.is_some()));

    // A reranker that answers with a wrong number of scores is an error, not a silent rank.
    let err = r.finish_rerank(request, &scores[..19]).unwrap_err();
    assert!(matches!(err, RetrieverError::RerankScores { expected: 20, got: 19 }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A reranked query in two halves on demos with screenshot files: the request reads none of
/// them, lists them, and refuses to finish until each is supplied; supplied, the documents are
/// the ones the blocking reranker sees (it reads the files itself).
#[test]
fn a_rerank_request_lists_the_screenshots_it_needs() {
    struct Recording(std::sync::Mutex<Vec<EmbedInput>>);
    impl Rerank for Recording {
        fn rerank(&self, _query: &EmbedInput, documents: &[EmbedInput]) -> demo_retriever::Result<Vec<f32>> {
            *self.0.lock().unwrap() = documents.to_vec();
            Ok((0..documents.len()).map(|i| 1.0 - i as f32 / 100.0).collect())
        }
    }
    let mut r = DemoRetriever::new(RetrieverSettings::new("fake", 16)).unwrap();
    r.add_demos(sample_demos()).unwrap();
    r.build_index(&Fake, 64, &mut |_| {}).unwrap();
    let query = Query::text("goal 3").top_k(3).reranked();
    let blocking = Recording(Default::default());
    let want = r.retrieve(&Fake, &query, Some(&blocking)).unwrap();
    let want_docs = blocking.0.into_inner().unwrap();

    let vector = Fake.embed_inputs(&[r.query_input(&query).unwrap()], 16).unwrap().remove(0);
    let mut request = r.rerank_request(&vector, &query).unwrap();
    let with_files = sample_demos().iter().filter(|d| d.screenshot_path.is_some()).count();
    assert!(with_files > 0, "the sample library has screenshots");
    assert_eq!(request.missing_screenshots.len(), with_files.min(request.documents.len()));
    assert!(request.documents.iter().all(|d| d.images.is_empty()), "no file was read");
    let scores: Vec<f32> = (0..request.documents.len()).map(|i| 1.0 - i as f32 / 100.0).collect();
    let err = r.finish_rerank(request.clone(), &scores).unwrap_err();
    assert!(
        matches!(&err, RetrieverError::BadDemos(e) if matches!(e[0].problem, DemoProblem::Screenshot { .. })),
        "{err}"
    );

    assert!(!request.supply_screenshot("no-such-demo", vec![1, 2, 3]));
    request.read_missing_screenshots().unwrap();
    assert!(request.missing_screenshots.is_empty());
    assert_eq!(request.documents, want_docs);
    assert_eq!(r.finish_rerank(request, &scores).unwrap(), want);
}

#[test]
fn bonus_candidates_are_found_beyond_the_top_k_by_cosine() {
    let (dir, mut r) = fake_library("many", 300, |n| n == 123);
    r.set_bonuses(Bonuses { app: 3.0, domain: 0.1 });
    let hits = r.retrieve(&Fake, &Query::text("goal 7").app("rare").top_k(3), None).unwrap();
    assert_eq!(hits[0].demo.demo_id, "d123");
    assert_eq!(hits[1].demo.demo_id, "d007");
    assert!((hits[1].embedding_score - 1.0).abs() < 1e-5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = temp_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.json"), r#"{"episode_id": "a", "instruction": "x", "screenshot_path": "gone.png"}"#)
        .unwrap();
    std::fs::write(dir.join("b.json"), "{ corrupt").unwrap();
    std::fs::write(dir.join("c.json"), r#"{"episode_id": "c", "instruction": "fine"}"#).unwrap();
    let lib = read_library(&dir).unwrap();
    assert_eq!(lib.demos.len(), 1);
    let errors: Vec<String> = lib.errors.iter().map(ToString::to_string).collect();
    assert!(errors[0].contains("a.json") && errors[0].contains("gone.png"), "{errors:?}");
    assert!(errors[1].contains("b.json") && errors[1].contains("invalid episode JSON"), "{errors:?}");

    // A screenshot deleted after the demo was added: the build fails, nothing is half-added.
    let shot = dir.join("shot.png");
    std::fs::copy(library_dir().join("screenshots/notepad_save.png"), &shot).unwrap();
    std::fs::write(dir.join("d.json"), r#"{"episode_id": "d", "instruction": "y", "screenshot_path": "shot.png"}"#)
        .unwrap();
    let demos = read_library(&dir).unwrap().demos;
    let mut r = DemoRetriever::new(RetrieverSettings::new(MODEL, 64)).unwrap();
    r.add_demos(demos).unwrap();
    std::fs::remove_file(&shot).unwrap();
    let err = r.build_index(embedder(), 4, &mut |_| {}).unwrap_err();
    assert!(matches!(err, RetrieverError::BadDemos(_)) && err.to_string().contains("shot.png"), "{err}");
    assert_eq!(r.pending(), 2);
    assert!(matches!(r.retrieve(embedder(), &Query::text("x"), None), Err(RetrieverError::NotBuilt(2))));
    assert!(matches!(r.save(&dir.join("idx")), Err(RetrieverError::NotBuilt(2))));

    let r = built(sample_demos());
    assert!(matches!(r.retrieve(embedder(), &Query::text("  "), None), Err(RetrieverError::EmptyQuery)));
    assert!(matches!(r.ensure_compatible(Some("other-model"), None, None), Err(RetrieverError::ModelMismatch { .. })));
    assert!(matches!(
        r.ensure_compatible(Some(MODEL), Some(32), None),
        Err(RetrieverError::DimMismatch { expected: 32, found: 64 })
    ));
    assert!(matches!(r.ensure_compatible(None, None, Some("other")), Err(RetrieverError::InstructionMismatch { .. })));
    r.ensure_compatible(Some(MODEL), Some(64), Some(demo_retriever::DEFAULT_INSTRUCTION)).unwrap();
    let err = DemoRetriever::load(Path::new("/no/such/index")).err().unwrap().to_string();
    assert!(err.contains("not a demo index"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
