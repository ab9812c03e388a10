//! Helpers shared by CLI test files that run the binary on private copies of the fixtures.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reference_fixtures::fixtures_dir;

/// The `qwen3-vl-embed` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qwen3-vl-embed"))
}

/// A fresh (removed) path in the temp directory, private to this process.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-reliability-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A private copy of a model directory (an index records its absolute path).
pub fn model_copy(name: &str, src: &Path) -> PathBuf {
    let dir = tmp(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// The sample demo library.
pub fn library() -> PathBuf {
    fixtures_dir().join("demo-library")
}

/// Runs the binary to completion.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// Runs the binary, asserts success and returns (stdout, stderr).
pub fn ok(args: &[&str]) -> (String, String) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Asserts that `out` failed with `code`, printed nothing on stdout, did not panic, and said
/// `needle` on stderr; returns stderr.
pub fn check_failure(what: &str, out: &Output, code: i32, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
    assert!(out.stdout.is_empty(), "{what} printed to stdout");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(stderr.contains(needle), "{what}: wanted {needle:?} in {stderr}");
    stderr
}

/// Runs the binary and asserts it failed as [`check_failure`] says; returns stderr.
pub fn fails(args: &[&str], code: i32, needle: &str) -> String {
    check_failure(&format!("{args:?}"), &run(args), code, needle)
}

/// A path as `&str` (the fixtures' temp paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `index DEMOS --out OUT` with `model` on the CPU; returns stdout.
pub fn index(model: &Path, demos: &Path, out: &Path) -> String {
    ok(&["index", s(demos), "--out", s(out), "--model", s(model), "--device", "cpu", "--batch-size", "3"]).0
}

/// The demo ids an index holds, from `info --json`.
pub fn demo_ids(index: &Path) -> Vec<String> {
    let (out, _) = ok(&["info", s(index), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["demo_ids"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect()
}

/// The embedding cache file of the generation an index's `manifest.json` commits (the layout
/// `demo_retriever::store` documents).
pub fn cache_file(index: &Path) -> PathBuf {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index.join("manifest.json")).unwrap()).unwrap();
    index.join(format!("gen-{}", manifest["generation"].as_u64().unwrap())).join("embedding_cache.jsonl")
}

/// Every file under `dir` with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Writes a library of one text-only demo per id (cheap to embed) into `dir`, one file each.
pub fn text_library(dir: &Path, ids: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for id in ids {
        let episode = serde_json::json!({"episode_id": id, "instruction": format!("Do task {id}")});
        std::fs::write(dir.join(format!("{id}.json")), episode.to_string()).unwrap();
    }
}
