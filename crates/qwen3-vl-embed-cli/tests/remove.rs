//! `remove`: an index with demos removed answers exactly as a fresh index of the remaining
//! demos (same ids, scores within 1e-6), and an unknown id changes no file.

mod common;

use common::*;
use reference_fixtures::tiny_model_dir;
use serde_json::Value;

fn answers(index: &std::path::Path) -> Vec<Value> {
    ["Turn off Night Shift", "send an email", "create a folder"]
        .iter()
        .map(|task| {
            let (out, _) = ok(&["query", s(index), "--json", "--device", "cpu", "--text", task, "--top-k", "5"]);
            serde_json::from_str::<Value>(&out).unwrap()["results"].clone()
        })
        .collect()
}

#[test]
fn remove_equals_a_fresh_index_of_the_rest_and_unknown_ids_change_nothing() {
    let model = model_copy("remove-model", &tiny_model_dir());
    let (all, rest) = (tmp("remove-all"), tmp("remove-rest"));
    index(&model, &library().join("episodes"), &all);
    let gone = ["web_gmail_compose", "macos_night_shift"];

    let before = snapshot(&all);
    fails(&["remove", s(&all), gone[0], "no_such_demo"], 2, "no_such_demo");
    assert_eq!(snapshot(&all), before, "a refused remove changes no file");

    let (out, _) = ok(&["remove", s(&all), gone[0], gone[1]]);
    assert!(out.contains("removed 2 demos") && out.contains("now holds 3"), "{out}");
    assert!(demo_ids(&all).iter().all(|id| !gone.contains(&id.as_str())));
    let episodes = std::fs::read_dir(all.join("demos")).unwrap().count();
    assert_eq!(episodes, 3, "the removed demos' episode files are gone");

    // The reference: the library without those two demos, indexed from scratch.
    let library_rest = tmp("remove-library");
    std::fs::create_dir_all(&library_rest).unwrap();
    for entry in std::fs::read_dir(library().join("episodes")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if !gone.contains(&name.as_str()) {
            // Screenshot paths are relative to the episode file: rewrite them absolute.
            let mut episode: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            for step in episode["steps"].as_array_mut().unwrap() {
                if let Some(p) = step["observation"]["screenshot_path"].as_str() {
                    let abs = path.parent().unwrap().join(p).canonicalize().unwrap();
                    step["observation"]["screenshot_path"] = Value::String(abs.to_str().unwrap().to_owned());
                }
            }
            std::fs::write(library_rest.join(path.file_name().unwrap()), episode.to_string()).unwrap();
        }
    }
    index(&model, &library_rest, &rest);
    let (got, want) = (answers(&all), answers(&rest));
    for (g, w) in got.iter().zip(&want) {
        let ids = |v: &Value| v.as_array().unwrap().iter().map(|r| r["demo_id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(g), ids(w));
        for (a, b) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()) {
            assert!((a["score"].as_f64().unwrap() - b["score"].as_f64().unwrap()).abs() <= 1e-6, "{a} vs {b}");
        }
    }
    for dir in [&all, &rest, &library_rest, &model] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
