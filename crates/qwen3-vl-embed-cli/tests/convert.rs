//! `qwen3-vl-embed convert`: the converted directory is embedded with its stored precision
//! (no `--precision` needed) to exactly the vector of quantizing the original at load, and bad
//! usage is refused before anything is written.

mod common;

use common::{fails, ok, s, tmp};
use reference_fixtures::tiny_model_dir;

/// `embed --json` of one text query with extra flags; returns stdout.
fn embed(model: &str, extra: &[&str]) -> String {
    let mut args = vec!["embed", "--model", model, "--text", "Turn off Night Shift", "--device", "cpu", "--json"];
    args.extend(extra);
    ok(&args).0
}

#[test]
fn a_q4_conversion_embeds_like_q4_at_load() {
    let out = tmp("convert-q4");
    let tiny = tiny_model_dir();
    let (_, stderr) = ok(&["convert", s(&tiny), "--precision", "q4", "--out", s(&out)]);
    assert!(stderr.contains("packed weights"), "{stderr}");
    let want = embed(s(&tiny), &["--precision", "q4"]);
    let got = embed(s(&out), &[]);
    // Same vector, printed the same: JSON text equality (the model field names the directory).
    let vector = |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap()["embedding"].clone();
    assert_eq!(vector(&got), vector(&want));
    fails(&["embed", "--model", s(&out), "--text", "x", "--device", "cpu", "--precision", "f32"], 1, "stored as q4");
    // The output exists now: a second conversion into it is refused and leaves it alone.
    fails(&["convert", s(&tiny), "--precision", "int8", "--out", s(&out)], 2, "not empty");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_cpu_layout_conversion_embeds_like_int8_at_load() {
    let out = tmp("convert-cpu-int8");
    let tiny = tiny_model_dir();
    let (_, stderr) = ok(&["convert", s(&tiny), "--precision", "int8", "--layout", "cpu", "--out", s(&out)]);
    assert!(stderr.contains("int8, CPU layout"), "{stderr}");
    let vector = |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap()["embedding"].clone();
    assert_eq!(vector(&embed(s(&out), &[])), vector(&embed(s(&tiny), &["--precision", "int8"])));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn unknown_layouts_and_an_f16_cpu_layout_are_usage_errors() {
    let out = tmp("convert-layout");
    let tiny = tiny_model_dir();
    fails(&["convert", s(&tiny), "--precision", "q4", "--layout", "gpu", "--out", s(&out)], 2, "unknown layout");
    fails(&["convert", s(&tiny), "--precision", "f16", "--layout", "cpu", "--out", s(&out)], 2, "not f16");
    assert!(!out.exists());
}

#[test]
fn f32_and_unknown_precisions_are_usage_errors() {
    let out = tmp("convert-f32");
    let tiny = tiny_model_dir();
    fails(&["convert", s(&tiny), "--precision", "f32", "--out", s(&out)], 2, "not a conversion");
    fails(&["convert", s(&tiny), "--precision", "q3", "--out", s(&out)], 2, "unknown precision");
    assert!(!out.exists());
}
