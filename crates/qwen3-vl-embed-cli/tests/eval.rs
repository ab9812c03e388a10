//! `eval` on the sample library's queries (`tests/fixtures/demo-library/queries.jsonl`):
//! its precision@k, recall@k and MRR against the same metrics computed here from `query`'s
//! own answers for each method, and, for the text method at k = 1, against numbers worked out
//! by hand.

mod common;

use std::path::Path;

use common::*;
use reference_fixtures::{fixtures_dir, tiny_model_dir};
use serde_json::Value;

/// The top-k demo ids `query` returns for one line of the queries file with `method`.
fn ranked(index: &Path, q: &Value, k: usize, method: &[&str]) -> Vec<String> {
    let k = k.to_string();
    let mut args = vec!["query", s(index), "--json", "--device", "cpu", "--top-k", &k];
    args.extend_from_slice(method);
    let shot = q["screenshot"].as_str().map(|p| library().join(p));
    for (flag, value) in
        [("--text", q["task"].as_str()), ("--app", q["app"].as_str()), ("--domain", q["domain"].as_str())]
    {
        if let Some(v) = value {
            args.extend([flag, v]);
        }
    }
    if let Some(p) = &shot {
        args.extend(["--image", s(p)]);
    }
    let (out, _) = ok(&args);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["results"].as_array().unwrap().iter().map(|r| r["demo_id"].as_str().unwrap().to_owned()).collect()
}

/// (precision@k, recall@k, MRR@k) averaged over the queries, from the definitions.
fn expected_metrics(index: &Path, queries: &[Value], k: usize, method: &[&str], text_only: bool) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for q in queries {
        let expected: Vec<&str> = q["expected"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
        let got = if text_only && q["task"].is_null() { Vec::new() } else { ranked(index, q, k, method) };
        let hits = got.iter().take(k).filter(|id| expected.contains(&id.as_str())).count() as f64;
        let first = got.iter().take(k).position(|id| expected.contains(&id.as_str()));
        sum[0] += hits / k as f64;
        sum[1] += hits / expected.len() as f64;
        sum[2] += first.map_or(0.0, |i| 1.0 / (i + 1) as f64);
    }
    sum.map(|x| x / queries.len() as f64)
}

fn eval(index: &Path, k: usize, methods: &str, extra: &[&str]) -> Value {
    let file = library().join("queries.jsonl");
    let k = k.to_string();
    let mut args = vec!["eval", s(index), s(&file), "--json", "--device", "cpu", "--top-k", &k, "--methods", methods];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&args).0).unwrap()
}

fn assert_metrics(got: &Value, want: [f64; 3], what: &str) {
    let got = [&got["precision_at_k"], &got["recall_at_k"], &got["mrr"]].map(|v| v.as_f64().unwrap());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-9, "{what}: {got:?} vs {want:?}");
    }
}

#[test]
fn eval_matches_metrics_computed_from_query_answers() {
    let model = model_copy("eval-model", &tiny_model_dir());
    let idx = tmp("eval-index");
    index(&model, &library().join("episodes"), &idx);
    let text = std::fs::read_to_string(library().join("queries.jsonl")).unwrap();
    let queries: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let reranker = fixtures_dir().join("reranker/tiny-reranker");

    let all = eval(&idx, 3, "multimodal,text,rerank", &["--reranker", s(&reranker)]);
    assert_eq!(all["queries"], queries.len());
    let m = &all["methods"];
    assert_metrics(
        &m["multimodal"],
        expected_metrics(&idx, &queries, 3, &["--method", "multimodal"], false),
        "multimodal",
    );
    assert_metrics(&m["text"], expected_metrics(&idx, &queries, 3, &["--method", "text"], true), "text");
    let rerank = ["--method", "multimodal", "--rerank", "--reranker", s(&reranker)];
    assert_metrics(&m["multimodal+rerank"], expected_metrics(&idx, &queries, 3, &rerank, false), "rerank");
    assert_eq!(m["text"]["unanswered"], 1, "the screenshot-only query has no text");

    // By hand, text at k = 1: every query with text shares its rarest words with its expected
    // demo, so the top 1 is expected for 6 of 7 (the screenshot-only query scores 0). Recall:
    // five queries with one expected demo (1 each), the screenshot query 0, the last query 1
    // of its 2 expected: (5 + 0.5) / 7.
    let top1 = eval(&idx, 1, "text", &[]);
    assert_metrics(&top1["methods"]["text"], [6.0 / 7.0, 5.5 / 7.0, 6.0 / 7.0], "text by hand");

    // Bad files are usage errors naming the line.
    let bad = tmp("eval-bad");
    std::fs::create_dir_all(&bad).unwrap();
    for (name, body, needle) in [
        ("unknown.jsonl", r#"{"task": "x", "expected": ["nope"]}"#, "line 1: expected demo \"nope\""),
        ("typo.jsonl", r#"{"task": "x", "expected_ids": ["macos_night_shift"]}"#, "unknown field"),
        ("empty.jsonl", "\n", "no queries"),
    ] {
        std::fs::write(bad.join(name), body).unwrap();
        fails(&["eval", s(&idx), s(&bad.join(name)), "--methods", "text"], 2, needle);
    }
    for dir in [&idx, &model, &bad] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
