//! The demo-retriever commands (`index`, `add`, `info`, `query`) on the sample library with the
//! tiny checkpoint: the JSON contract, scores against brute-force cosine + bonuses computed
//! here from the Embedder, incremental updates, and bad inputs that leave the index intact.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::*;
use demo_retriever::{DEFAULT_INSTRUCTION, Demo, read_library};
use qwen3_vl_embedder::{DeviceChoice, EmbedInput, Embedder, EmbedderOptions, start_device};
use reference_fixtures::{fixtures_dir, tiny_model_dir};
use serde_json::Value;

const TOL: f64 = 1e-5;

fn query_json(index: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["query", s(index), "--json"];
    all.extend_from_slice(args);
    if !args.contains(&"--device") {
        all.extend(["--device", "cpu"]);
    }
    let (stdout, stderr) = ok(&all);
    assert_eq!(stdout.lines().count(), 1, "exactly one line on stdout: {stdout}");
    assert!(stderr.contains("device: "), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    v["results"].as_array().unwrap().clone()
}

fn embedder() -> &'static Embedder {
    static E: OnceLock<Embedder> = OnceLock::new();
    E.get_or_init(|| {
        let device = start_device(DeviceChoice::Cpu).unwrap();
        Embedder::from_dir(&tiny_model_dir(), &device.device, EmbedderOptions::default()).unwrap()
    })
}

fn demos(path: &Path) -> Vec<Demo> {
    read_library(path).unwrap().demos
}

/// Expected `(demo_id, score, embedding_score)`, best first: cosine by brute force + bonuses.
fn expected(
    demos: &[Demo],
    text: Option<&str>,
    image: Option<&Path>,
    app: Option<&str>,
    domain: Option<&str>,
    k: usize,
) -> Vec<(String, f64, f64)> {
    let q = EmbedInput {
        text: text.map(str::to_owned),
        images: image.map(|p| std::fs::read(p).unwrap()).into_iter().collect(),
        instruction: Some(DEFAULT_INSTRUCTION.into()),
    };
    let qv = embedder().embed(&q, Some(64)).unwrap();
    let mut all: Vec<(String, f64, f64)> = demos
        .iter()
        .map(|d| {
            let mut input = EmbedInput::text(d.goal.clone()).with_instruction(DEFAULT_INSTRUCTION);
            input.images.extend(d.screenshot_path.iter().map(|p| std::fs::read(p).unwrap()));
            let v = embedder().embed(&input, Some(64)).unwrap();
            let cos: f64 = qv.iter().zip(&v).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
            let same = |a: Option<&str>, b: Option<&String>| matches!((a, b), (Some(a), Some(b)) if a.to_lowercase() == b.to_lowercase());
            let bonus = if same(app, d.app_name.as_ref()) { 0.1 } else { 0.0 }
                + if same(domain.map(|d| d.trim_start_matches("www.")), d.domain.as_ref()) { 0.1 } else { 0.0 };
            (d.demo_id.clone(), cos + bonus, cos)
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

fn check(results: &[Value], want: &[(String, f64, f64)], what: &str) {
    let ids: Vec<&str> = results.iter().map(|r| r["demo_id"].as_str().unwrap()).collect();
    let want_ids: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
    assert_eq!(ids, want_ids, "{what}");
    for (i, (r, (_, score, cos))) in results.iter().zip(want).enumerate() {
        assert_eq!(r["rank"], i + 1);
        assert!((r["score"].as_f64().unwrap() - score).abs() <= TOL, "{what}: {r} vs {score}");
        assert!((r["embedding_score"].as_f64().unwrap() - cos).abs() <= TOL, "{what}: {r} vs {cos}");
        assert!(r["rerank_score"].is_null());
        for key in ["goal", "app_name", "domain", "screenshot_path"] {
            assert!(r.get(key).is_some(), "{what}: {key} missing in {r}");
        }
    }
}

#[test]
fn index_info_and_query_match_brute_force_cosine_plus_bonuses() {
    let model = model_copy("model-a", &tiny_model_dir());
    let out = tmp("index-a");
    let episodes = library().join("episodes");
    let stdout = index(&model, &episodes, &out);
    assert!(stdout.contains("indexed 5 demos") && stdout.contains("embedded 5"), "{stdout}");

    let (info, _) = ok(&["info", s(&out), "--json"]);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!((info["demos"].as_u64(), info["dim"].as_u64()), (Some(5), Some(64)), "512 capped at the width");
    assert_eq!(info["instruction"], DEFAULT_INSTRUCTION);
    assert_eq!(info["model"], s(&model));
    assert_eq!(info["platforms"]["web"], 2);
    let (text, _) = ok(&["info", s(&out)]);
    assert!(text.contains("web_github_star"), "{text}");

    let lib = demos(&episodes);
    let shot = library().join("screenshots/gmail_compose.png");
    check(
        &query_json(&out, &["--text", "Turn off Night Shift"]),
        &expected(&lib, Some("Turn off Night Shift"), None, None, None, 5),
        "text",
    );
    check(
        &query_json(&out, &["--image", s(&shot), "--top-k", "3"]),
        &expected(&lib, None, Some(&shot), None, None, 3),
        "image",
    );
    check(
        &query_json(
            &out,
            &["--text", "send mail", "--image", s(&shot), "--app", "safari", "--domain", "www.mail.google.com"],
        ),
        &expected(&lib, Some("send mail"), Some(&shot), Some("safari"), Some("mail.google.com"), 5),
        "text+image with bonuses",
    );
    // --filter: the brute-force ranking over only the matching demos (2 of the 5 are web
    // demos, so asking for 5 gives exactly those 2).
    let web: Vec<Demo> = lib.iter().filter(|d| d.platform == "web").cloned().collect();
    assert_eq!(web.len(), 2);
    check(
        &query_json(&out, &["--text", "send mail", "--filter", "Platform=WEB", "--top-k", "5"]),
        &expected(&web, Some("send mail"), None, None, None, 5),
        "text filtered to platform=web",
    );
    let human = ok(&["query", s(&out), "--text", "Turn off Night Shift", "--device", "cpu"]).0;
    assert!(human.contains(" 1. ") && human.contains("score"), "{human}");
}

#[test]
fn add_then_query_equals_a_fresh_index_and_reindexing_embeds_nothing() {
    let model = model_copy("model-b", &tiny_model_dir());
    let (a, b) = (tmp("index-add"), tmp("index-fresh"));
    index(&model, &library().join("episodes"), &a);
    let (stdout, _) = ok(&["add", s(&a), s(&library().join("more.jsonl")), "--device", "cpu"]);
    assert!(stdout.contains("embedded 2, reused 0") && stdout.contains("now holds 7"), "{stdout}");

    // One library with all seven episodes (absolute screenshot paths) for a fresh build.
    let all = tmp("all-lib");
    std::fs::create_dir_all(&all).unwrap();
    let lines: Vec<String> = demos(&library().join("episodes"))
        .into_iter()
        .chain(demos(&library().join("more.jsonl")))
        .map(|d| {
            let mut e = d.episode.clone();
            e["screenshot_path"] = serde_json::json!(d.screenshot_path);
            e.to_string()
        })
        .collect();
    std::fs::write(all.join("all.jsonl"), lines.join("\n")).unwrap();
    index(&model, &all.join("all.jsonl"), &b);
    for args in [&["--text", "Resize a picture", "--top-k", "7"][..], &["--text", "Search the web", "--app", "Paint"]] {
        let (x, y) = (query_json(&a, args), query_json(&b, args));
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(&y) {
            assert_eq!(p["demo_id"], q["demo_id"]);
            assert!((p["score"].as_f64().unwrap() - q["score"].as_f64().unwrap()).abs() <= 1e-6);
        }
    }
    // Re-running `index` on an unchanged library embeds nothing (everything from the cache).
    let stdout = index(&model, &all.join("all.jsonl"), &b);
    assert!(stdout.contains("embedded 0, reused 7"), "{stdout}");
    for d in [a, b, all, model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn bad_inputs_are_clear_errors_and_leave_the_index_intact() {
    let model = model_copy("model-c", &tiny_model_dir());
    let other = model_copy("model-other", &fixtures_dir().join("models/tiny-embedding-sharded"));
    let idx = tmp("index-bad");
    let episodes = library().join("episodes");
    index(&model, &episodes, &idx);
    let before = snapshot(&idx);

    let bad = tmp("bad-lib");
    std::fs::create_dir_all(bad.join("missing")).unwrap();
    std::fs::create_dir_all(bad.join("corrupt")).unwrap();
    std::fs::create_dir_all(bad.join("empty")).unwrap();
    std::fs::write(
        bad.join("missing/a.json"),
        r#"{"episode_id": "new_a", "instruction": "x", "screenshot_path": "gone.png"}"#,
    )
    .unwrap();
    std::fs::write(
        bad.join("missing/b.json"),
        r#"{"episode_id": "new_b", "instruction": "Open the Downloads folder"}"#,
    )
    .unwrap();
    std::fs::write(bad.join("corrupt/c.json"), r#"{"episode_id": "c", "instruction": "#).unwrap();

    let (i, m) = (s(&idx), s(&model));
    fails(&["add", i, s(&bad.join("missing")), "--device", "cpu"], 3, "gone.png");
    fails(&["add", i, s(&bad.join("corrupt")), "--device", "cpu"], 3, "invalid episode JSON");
    fails(&["add", i, s(&bad.join("empty")), "--device", "cpu"], 3, "holds no episodes");
    fails(&["index", s(&episodes), "--out", i, "--model", m, "--dim", "65", "--device", "cpu"], 4, "dimension 65");
    fails(&["index", s(&episodes), "--out", i, "--model", s(&other), "--device", "cpu"], 4, "built with model");
    fails(&["index", s(&episodes), "--out", i, "--instruction", "Other", "--device", "cpu"], 4, "instruction");
    fails(&["index", s(&bad.join("empty")), "--out", i, "--model", m, "--device", "cpu"], 3, "holds no episodes");
    fails(&["query", i, "--device", "cpu"], 2, "empty query");
    fails(&["query", i, "--text", "x", "--device", "tpu"], 2, "unknown device");
    fails(&["query", i, "--text", "x", "--filter", "colour=red"], 2, "bad filter");
    fails(&["query", s(&bad), "--text", "x", "--device", "cpu"], 4, "not a demo index");
    assert_eq!(snapshot(&idx), before, "failed commands changed the index");

    // A damaged index file is reported by name.
    std::fs::write(idx.join("gen-1/ids"), "x\n").unwrap();
    fails(&["info", i], 4, "ids");
    for d in [&idx, &bad, &model, &other] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn skip_bad_adds_the_good_demos_with_a_warning() {
    let model = model_copy("model-d", &tiny_model_dir());
    let idx = tmp("index-skip");
    index(&model, &library().join("episodes"), &idx);
    let bad = tmp("skip-lib");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("a.json"), r#"{"episode_id": "new_a", "instruction": "x", "screenshot_path": "gone.png"}"#)
        .unwrap();
    std::fs::write(bad.join("b.json"), r#"{"episode_id": "new_b", "instruction": "Open the Downloads folder"}"#)
        .unwrap();
    let (stdout, stderr) = ok(&["add", s(&idx), s(&bad), "--skip-bad", "--device", "cpu"]);
    assert!(stderr.contains("warning: skipping") && stderr.contains("gone.png"), "{stderr}");
    assert!(stdout.contains("now holds 6"), "{stdout}");
    for d in [&idx, &bad, &model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn rerank_rescores_the_top_candidates() {
    let model = model_copy("model-e", &tiny_model_dir());
    let idx = tmp("index-rerank");
    index(&model, &library().join("episodes"), &idx);
    let reranker = fixtures_dir().join("reranker/tiny-reranker");
    let results = query_json(
        &idx,
        &["--text", "Star a repository", "--rerank", "--reranker", s(&reranker), "--app", "Finder", "--top-k", "5"],
    );
    assert_eq!(results.len(), 5);
    let mut last = f64::INFINITY;
    for r in &results {
        let rerank = r["rerank_score"].as_f64().expect("all five are in the top rerank_top_n = 20");
        assert!((0.0..=1.0).contains(&rerank));
        let bonus = if r["app_name"] == "Finder" { 0.1 } else { 0.0 };
        let score = r["score"].as_f64().unwrap();
        assert!((score - rerank - bonus).abs() <= 1e-6, "{r}");
        assert!(score <= last + 1e-9, "sorted best first");
        last = score;
    }
    fails(
        &["query", s(&idx), "--text", "x", "--rerank", "--reranker", "./no-such-reranker", "--device", "cpu"],
        1,
        "not a model directory",
    );
    for d in [&idx, &model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn query_on_wgpu_matches_cpu() {
    let model = model_copy("model-f", &tiny_model_dir());
    let idx = tmp("index-wgpu");
    index(&model, &library().join("episodes"), &idx);
    let screenshot = library().join("screenshots/notepad_save.png");
    let args = ["--text", "Save my notes", "--image", s(&screenshot)];
    let cpu = query_json(&idx, &args);
    let gpu_args = [&args[..], &["--device", "wgpu"][..]].concat();
    let gpu = query_json(&idx, &gpu_args);
    for (c, g) in cpu.iter().zip(&gpu) {
        assert_eq!(c["demo_id"], g["demo_id"]);
        assert!((c["score"].as_f64().unwrap() - g["score"].as_f64().unwrap()).abs() <= 1e-4);
    }
    for d in [&idx, &model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
