//! `export`: the Qdrant files hold every demo once, with the vector `embed` computes for the
//! demo's goal + screenshot (1e-5) and the point id vector-index documents; and `info`'s size
//! on disk.

mod common;

use std::collections::BTreeSet;

use common::*;
use demo_retriever::DEFAULT_INSTRUCTION;
use reference_fixtures::tiny_model_dir;
use serde_json::Value;

#[test]
fn export_writes_every_demo_with_its_embedding() {
    let model = model_copy("export-model", &tiny_model_dir());
    let (idx, out) = (tmp("export-index"), tmp("export-out"));
    index(&model, &library().join("episodes"), &idx);
    // `info` on the same index: its size on disk against the files' own sizes.
    let (info, _) = ok(&["info", s(&idx), "--json"]);
    let info: Value = serde_json::from_str(&info).unwrap();
    let bytes: usize = snapshot(&idx).values().map(Vec::len).sum();
    assert_eq!(info["disk_bytes"], bytes);
    assert_eq!(info["search"], "exact", "5 demos: below the HNSW threshold");

    let (stdout, _) = ok(&["export", s(&idx), "--out", s(&out), "--batch", "2"]);
    assert!(stdout.contains("exported 5 points of dimension 64"), "{stdout}");

    let collection: Value = serde_json::from_slice(&std::fs::read(out.join("collection.json")).unwrap()).unwrap();
    assert_eq!(collection, serde_json::json!({"vectors": {"size": 64, "distance": "Cosine"}}));
    let text = std::fs::read_to_string(out.join("points.jsonl")).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["points"].as_array().unwrap().len()).collect::<Vec<_>>(), [2, 2, 1]);
    let points: Vec<&Value> = lines.iter().flat_map(|l| l["points"].as_array().unwrap()).collect();
    let ids: BTreeSet<String> = points.iter().map(|p| p["payload"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, demo_ids(&idx).into_iter().collect());
    assert!(!out.join("points.partial").exists());

    // One demo's vector against `embed` of its goal and screenshot with the index's instruction.
    let star = points.iter().find(|p| p["payload"]["id"] == "web_github_star").unwrap();
    assert_eq!(star["id"], vector_index::export::qdrant_point_id("web_github_star"));
    let shot = library().join("screenshots/github_star.png");
    let goal = star["payload"]["metadata"]["goal"].as_str().unwrap();
    let args = ["embed", "--model", s(&model), "--text", goal, "--image", s(&shot)];
    let (embedded, _) =
        ok(&[&args[..], &["--instruction", DEFAULT_INSTRUCTION, "--dim", "64", "--device", "cpu", "--json"]].concat());
    let want: Value = serde_json::from_str(&embedded).unwrap();
    let (got, want) = (star["vector"].as_array().unwrap(), want["embedding"].as_array().unwrap());
    assert_eq!(got.len(), 64);
    for (g, w) in got.iter().zip(want) {
        assert!((g.as_f64().unwrap() - w.as_f64().unwrap()).abs() <= 1e-5, "{g} vs {w}");
    }
    for dir in [&idx, &out, &model] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
