//! `index --app-bonus --domain-bonus --rerank-top-n`: saved in the index, used by `query`,
//! kept by a later `index` that does not give them, and changed without re-embedding.

mod common;

use common::*;
use reference_fixtures::tiny_model_dir;
use serde_json::Value;

fn info(index: &std::path::Path) -> Value {
    serde_json::from_str(&ok(&["info", s(index), "--json"]).0).unwrap()
}

#[test]
fn index_time_bonuses_and_rerank_depth_are_saved_kept_and_changed_without_reembedding() {
    let model = model_copy("settings-model", &tiny_model_dir());
    let (library, out) = (tmp("settings-library"), tmp("settings-index"));
    std::fs::create_dir_all(&library).unwrap();
    let episodes = [
        serde_json::json!({"episode_id": "browse", "instruction": "Open a new tab", "app_name": "Google Chrome"}),
        serde_json::json!({"episode_id": "mail", "instruction": "Write an email", "steps": [{"observation": {"url": "https://mail.google.com/"}}]}),
        serde_json::json!({"episode_id": "save", "instruction": "Save the file", "app_name": "Notepad"}),
    ];
    std::fs::write(library.join("lib.jsonl"), episodes.iter().map(Value::to_string).collect::<Vec<_>>().join("\n"))
        .unwrap();
    let lib = library.join("lib.jsonl");
    let base = ["--model", s(&model), "--device", "cpu"];
    ok(
        &[
            &[
                "index",
                s(&lib),
                "--out",
                s(&out),
                "--app-bonus",
                "0.5",
                "--domain-bonus",
                "0.25",
                "--rerank-top-n",
                "7",
            ][..],
            &base,
        ]
        .concat(),
    );
    let saved = info(&out);
    assert_eq!((saved["bonuses"]["app"].as_f64(), saved["bonuses"]["domain"].as_f64()), (Some(0.5), Some(0.25)));
    assert_eq!(saved["rerank_top_n"], 7);

    // The saved bonuses are what `query` adds: score - cosine, per demo.
    let q =
        ["query", s(&out), "--json", "--device", "cpu", "--text", "tab", "--app", "chrome", "--domain", "google.com"];
    let results: Value = serde_json::from_str(&ok(&q).0).unwrap();
    for r in results["results"].as_array().unwrap() {
        let bonus = r["score"].as_f64().unwrap() - r["embedding_score"].as_f64().unwrap();
        let want = match r["demo_id"].as_str().unwrap() {
            "browse" => 0.5,
            "mail" => 0.25,
            _ => 0.0,
        };
        assert!((bonus - want).abs() < 1e-6, "{r}");
    }

    // A later index without the flags keeps them; with one, changes only that, embedding nothing.
    ok(&[&["index", s(&lib), "--out", s(&out)][..], &base].concat());
    assert_eq!(info(&out)["bonuses"], saved["bonuses"]);
    let (stdout, _) = ok(&[&["index", s(&lib), "--out", s(&out), "--app-bonus", "0"][..], &base].concat());
    assert!(stdout.contains("embedded 0"), "{stdout}");
    let changed = info(&out);
    assert_eq!((changed["bonuses"]["app"].as_f64(), changed["bonuses"]["domain"].as_f64()), (Some(0.0), Some(0.25)));
    assert_eq!(changed["rerank_top_n"], 7);
    fails(&[&["index", s(&lib), "--out", s(&out), "--app-bonus", "nan"][..], &base].concat(), 2, "finite");
    // The seed's dimension rule: at least 64 (refused before the model loads), at most the
    // model's width (64 for the tiny checkpoint; refused before anything is written).
    fails(&[&["index", s(&lib), "--out", s(&out), "--dim", "32"][..], &base].concat(), 2, "at least 64");
    let fresh = tmp("settings-wide");
    fails(&[&["index", s(&lib), "--out", s(&fresh), "--dim", "65"][..], &base].concat(), 2, "64..=64");
    assert!(!fresh.join("manifest.json").exists());
    std::fs::remove_dir_all(&library).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&model).unwrap();
}

#[test]
fn the_search_strategy_is_saved_answers_as_exact_and_changes_without_reembedding() {
    let model = model_copy("strategy-model", &tiny_model_dir());
    let (exact, graph) = (tmp("strategy-exact"), tmp("strategy-hnsw"));
    let episodes = library().join("episodes");
    let base = ["--model", s(&model), "--device", "cpu"];
    ok(&[&["index", s(&episodes), "--out", s(&exact)][..], &base].concat());
    ok(&[&["index", s(&episodes), "--out", s(&graph), "--strategy", "hnsw"][..], &base].concat());
    assert_eq!((info(&exact)["search"].as_str(), info(&exact)["strategy"].as_str()), (Some("exact"), Some("auto")));
    assert_eq!((info(&graph)["search"].as_str(), info(&graph)["strategy"].as_str()), (Some("hnsw"), Some("hnsw")));
    // Five demos: the graph reaches every one, so the answers are the exact scan's.
    let answer = |index: &std::path::Path| {
        let q = ["query", s(index), "--json", "--device", "cpu", "--text", "Turn off Night Shift", "--top-k", "5"];
        let v: Value = serde_json::from_str(&ok(&q).0).unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["demo_id"].clone(), r["score"].as_f64().unwrap()))
            .collect::<Vec<_>>()
    };
    let (a, b) = (answer(&graph), answer(&exact));
    assert_eq!(a.iter().map(|x| &x.0).collect::<Vec<_>>(), b.iter().map(|x| &x.0).collect::<Vec<_>>());
    assert!(a.iter().zip(&b).all(|(x, y)| (x.1 - y.1).abs() <= 1e-6), "{a:?} vs {b:?}");
    // Back to exact: a new vector index from the cached vectors, nothing embedded.
    let (stdout, _) = ok(&[&["index", s(&episodes), "--out", s(&graph), "--strategy", "exact"][..], &base].concat());
    assert!(stdout.contains("embedded 0"), "{stdout}");
    assert_eq!(info(&graph)["search"].as_str(), Some("exact"));
    fails(
        &[&["index", s(&episodes), "--out", s(&graph), "--strategy", "ivf"][..], &base].concat(),
        2,
        "expected auto, exact or hnsw",
    );
    for dir in [&exact, &graph, &model] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
