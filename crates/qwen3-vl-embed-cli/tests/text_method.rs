//! `query --method text` (TF-IDF, no model) against a TF-IDF written out here from its
//! definition (scikit-learn's defaults: raw counts, idf `ln((1 + n) / (1 + df)) + 1`, unit
//! length), and `--method auto` falling back to it, with a warning, once the model is gone.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use demo_retriever::read_library;
use reference_fixtures::tiny_model_dir;
use serde_json::Value;

/// `query INDEX --json ARGS...`: (method, [(demo_id, score)]) and stderr.
fn query(index: &Path, args: &[&str]) -> (String, Vec<(String, f64)>, String) {
    let mut all = vec!["query", s(index), "--json", "--device", "cpu"];
    all.extend_from_slice(args);
    let (stdout, stderr) = ok(&all);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    let hits =
        results.iter().map(|r| (r["demo_id"].as_str().unwrap().to_owned(), r["score"].as_f64().unwrap())).collect();
    (v["method"].as_str().unwrap().to_owned(), hits, stderr)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// The expected ranking: TF-IDF cosine of the task against goal + app + domain, plus the bonus
/// when `app`'s name is inside the demo's app name, best first, ties by id.
fn tf_idf_ranking(task: &str, app: Option<(&str, f64)>, top_k: usize) -> Vec<(String, f64)> {
    let demos = read_library(&library().join("episodes")).unwrap().demos;
    let docs: Vec<Vec<String>> = demos
        .iter()
        .map(|d| {
            words(&format!(
                "{} {} {}",
                d.goal,
                d.app_name.clone().unwrap_or_default(),
                d.domain.clone().unwrap_or_default()
            ))
        })
        .collect();
    let n = docs.len() as f64;
    let idf = |t: &str| {
        let df = docs.iter().filter(|d| d.iter().any(|w| w == t)).count() as f64;
        (df > 0.0).then(|| ((1.0 + n) / (1.0 + df)).ln() + 1.0)
    };
    let vector = |ws: &[String]| {
        let mut v: BTreeMap<String, f64> = BTreeMap::new();
        for w in ws {
            if let Some(i) = idf(w) {
                *v.entry(w.clone()).or_default() += i;
            }
        }
        let norm = v.values().map(|x| x * x).sum::<f64>().sqrt();
        v.values_mut().for_each(|x| *x /= norm.max(f64::MIN_POSITIVE));
        v
    };
    let q = vector(&words(task));
    let mut ranked: Vec<(String, f64)> = demos
        .iter()
        .zip(&docs)
        .map(|(d, doc)| {
            let v = vector(doc);
            let cos: f64 = q.iter().map(|(t, w)| w * v.get(t).copied().unwrap_or(0.0)).sum();
            let inside = |a: &str| d.app_name.as_ref().is_some_and(|n| n.to_lowercase().contains(&a.to_lowercase()));
            let bonus = app.filter(|(a, _)| inside(a)).map_or(0.0, |(_, b)| b);
            (d.demo_id.clone(), cos + bonus)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(top_k);
    ranked
}

fn assert_same(got: &[(String, f64)], want: &[(String, f64)], what: &str) {
    let ids = |v: &[(String, f64)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(ids(got), ids(want), "{what}: ranking");
    for ((id, g), (_, w)) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-6, "{what}: {id} score {g} vs {w}");
    }
}

#[test]
fn text_method_ranks_by_tf_idf_and_auto_falls_back_to_it_without_a_model() {
    let model = model_copy("text-method-model", &tiny_model_dir());
    let idx = tmp("text-method-index");
    index(&model, &library().join("episodes"), &idx);

    // The last two also check the app bonus: the index's (0.1) and one given for the query.
    let cases = [
        ("Turn off Night Shift", None, None),
        ("save the file in notepad", None, None),
        ("new folder", Some(("finder", 0.1)), None),
        ("Turn off Night Shift", Some(("notepad", 0.75)), Some("0.75")),
    ];
    for (task, app, bonus_flag) in cases {
        let mut args = vec!["--method", "text", "--text", task, "--top-k", "4"];
        if let Some((app, _)) = app {
            args.extend(["--app", app]);
        }
        if let Some(b) = bonus_flag {
            args.extend(["--app-bonus", b]);
        }
        let (method, got, stderr) = query(&idx, &args);
        assert_eq!(method, "text");
        assert!(!stderr.contains("loading weights") && !stderr.contains("device: "), "text needs no model: {stderr}");
        assert_same(&got, &tf_idf_ranking(task, app, 4), task);
        assert!(got[0].1 > 0.0, "{task}: some demo shares words with the task");
    }
    let (method, multimodal, _) = query(&idx, &["--text", "Turn off Night Shift"]);
    assert_eq!(method, "multimodal", "auto uses the model when it loads");
    assert_eq!(multimodal.len(), 5);

    // A text query needs text; a screenshot alone cannot be matched by words (usage, exit 2).
    let shot = library().join("screenshots/github_star.png");
    fails(&["query", s(&idx), "--method", "text", "--image", s(&shot)], 2, "needs the task in words");

    // Without the model, auto answers by text with a warning; multimodal is an error.
    std::fs::remove_dir_all(&model).unwrap();
    let (method, got, stderr) = query(&idx, &["--text", "Turn off Night Shift", "--top-k", "4"]);
    assert_eq!(method, "text");
    assert!(stderr.contains("warning: the embedding model could not be used"), "{stderr}");
    assert_same(&got, &tf_idf_ranking("Turn off Night Shift", None, 4), "fallback");
    fails(&["query", s(&idx), "--method", "multimodal", "--text", "x", "--device", "cpu"], 1, "error");
    fails(&["query", s(&idx), "--image", s(&shot), "--device", "cpu"], 1, "error");
    let ids: BTreeSet<String> = got.into_iter().map(|g| g.0).collect();
    assert_eq!(ids.len(), 4);
    std::fs::remove_dir_all(&idx).unwrap();
}
