//! `migrate`: a text-only index upgraded with screenshots from a folder of `<demo_id>.png` or
//! from a JSON map answers exactly as `index` of the same demos with their screenshots (the
//! independent reference, computed here); bad resolvers are typed errors that write nothing.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use reference_fixtures::tiny_model_dir;
use serde_json::Value;

fn answers(index: &Path) -> Vec<Value> {
    let shot = library().join("screenshots/github_star.png");
    // A text query with a domain and a screenshot query: two CLI runs per index keep it cheap.
    let queries: [&[&str]; 2] = [&["--text", "Star this repo", "--domain", "github.com"], &["--image", s(&shot)]];
    queries
        .iter()
        .map(|q| {
            let mut args = vec!["query", s(index), "--json", "--device", "cpu"];
            args.extend_from_slice(q);
            serde_json::from_str::<Value>(&ok(&args).0).unwrap()["results"].clone()
        })
        .collect()
}

fn assert_same(got: &[Value], want: &[Value], what: &str) {
    for (g, w) in got.iter().zip(want) {
        let ids = |v: &Value| v.as_array().unwrap().iter().map(|r| r["demo_id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(g), ids(w), "{what}");
        for (a, b) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()) {
            let (a, b) = (a["score"].as_f64().unwrap(), b["score"].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-6, "{what}: {a} vs {b}");
        }
    }
}

/// The sample episodes with their screenshot paths removed (a text-only library), and each
/// demo's screenshot file.
fn text_library(dir: &Path) -> Vec<(String, PathBuf)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut shots = Vec::new();
    for entry in std::fs::read_dir(library().join("episodes")).unwrap() {
        let path = entry.unwrap().path();
        let mut episode: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let id = episode["episode_id"].as_str().unwrap().to_owned();
        for step in episode["steps"].as_array_mut().unwrap() {
            if let Some(p) = step["observation"].as_object_mut().unwrap().remove("screenshot_path") {
                shots.push((id.clone(), path.parent().unwrap().join(p.as_str().unwrap())));
            }
        }
        std::fs::write(dir.join(path.file_name().unwrap()), episode.to_string()).unwrap();
    }
    shots
}

#[test]
fn migrate_from_a_folder_or_a_map_equals_indexing_with_screenshots() {
    let model = model_copy("migrate-model", &tiny_model_dir());
    let root = tmp("migrate");
    let shots = text_library(&root.join("text-library"));
    assert_eq!(shots.len(), 5);
    let (text_index, reference) = (root.join("text-index"), root.join("reference"));
    index(&model, &root.join("text-library"), &text_index);
    index(&model, &library().join("episodes"), &reference);
    let want = answers(&reference);

    // A folder of <demo_id>.png, and a JSON map with paths relative to the map file.
    let folder = root.join("by-id");
    std::fs::create_dir_all(folder.join("..").join("map-images")).unwrap();
    std::fs::create_dir_all(&folder).unwrap();
    let mut map = serde_json::Map::new();
    for (id, shot) in &shots {
        std::fs::copy(shot, folder.join(format!("{id}.png"))).unwrap();
        std::fs::copy(shot, root.join("map-images").join(format!("{id}-shot.png"))).unwrap();
        map.insert(id.clone(), Value::String(format!("map-images/{id}-shot.png")));
    }
    let map_file = root.join("map.json");
    std::fs::write(&map_file, Value::Object(map).to_string()).unwrap();

    for (what, resolver) in [("folder", &folder), ("map", &map_file)] {
        let out = root.join(format!("migrated-{what}"));
        let (stdout, _) =
            ok(&["migrate", s(&text_index), "--screenshots", s(resolver), "--out", s(&out), "--device", "cpu"]);
        assert!(stdout.contains("migrated 5 demos") && stdout.contains("5 with a screenshot"), "{stdout}");
        assert_same(&answers(&out), &want, what);
    }
    // The text-only index really answered otherwise (the screenshots changed the vectors).
    assert_ne!(answers(&text_index)[0], want[0]);

    // A map naming a missing file fails as a bad demo (exit 3) and writes nothing.
    std::fs::write(&map_file, r#"{"macos_night_shift": "nope.png"}"#).unwrap();
    let never = root.join("never");
    fails(
        &["migrate", s(&text_index), "--screenshots", s(&map_file), "--out", s(&never), "--device", "cpu"],
        3,
        "nope.png",
    );
    assert!(!never.exists());
    // The output must be a new directory, not an index.
    let out = root.join("migrated-folder");
    fails(
        &["migrate", s(&text_index), "--screenshots", s(&folder), "--out", s(&out), "--device", "cpu"],
        2,
        "holds an index",
    );
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_dir_all(&model).unwrap();
}
