//! The `qwen3-vl-embed embed` contract: one JSON object on stdout, errors on stderr with a
//! non-zero exit, and reference embeddings from a checkpoint directory it has never seen.

use std::path::{Path, PathBuf};
use std::process::Command;

use reference_fixtures::{Reference, cases, fixtures_dir, max_abs_diff, tiny_model_dir};

/// The CLI must reproduce the reference to this (spec: 4e-6 on cpu and wgpu).
const CLI_TOL: f32 = 4e-6;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qwen3-vl-embed"))
}

/// A fresh copy of the tiny released-layout checkpoint, so nothing can be cached by path.
/// Made once per process: tests run in parallel, and one that found the directory while
/// another was still copying into it read a half-copied checkpoint.
fn unseen_model_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("qwen3-vl-embed-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(tiny_model_dir().join(f), dir.join(f)).unwrap();
        }
        dir
    })
    .clone()
}

fn embed_json(model: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let out = bin().args(["embed", "--model", model.to_str().unwrap(), "--json"]).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "exactly one line on stdout: {stdout}");
    (serde_json::from_str(&stdout).expect("stdout is JSON"), stderr)
}

/// The `embedding` array of `--json` output.
fn embedding(json: &serde_json::Value) -> Vec<f32> {
    json["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// Every case the contract names: text, images (odd size, tiny, large, RGBA, grey) and both.
const ALL_CASES: [&str; 9] =
    ["text", "image", "text_image", "odd_size", "tiny_image", "large_image", "rgba", "grey", "unicode_text"];
/// On lavapipe each CLI process compiles its shaders afresh (~1 minute a process on 2 cores).
/// What only the CLI can show on wgpu is that `--device wgpu` reaches the device and the
/// vector comes back intact, which one case shows; the in-process embedder and model tests
/// check the shapes on wgpu. `QWEN3_VL_FULL_MATRIX=1` runs every case here too.
const WGPU_CI_CASES: [&str; 1] = ["text_image"];

fn check_cases(device: &str, names: &[&str], extra: &[&str]) {
    let model = unseen_model_dir();
    let mut worst = 0f32;
    for case in cases().into_iter().filter(|c| names.contains(&c.name.as_str())) {
        let input = &case.inputs[0];
        let mut args = vec!["--device".to_string(), device.to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        if let Some(t) = &input.text {
            args.extend(["--text".into(), t.clone()]);
        }
        if let Some(i) = &input.instruction {
            args.extend(["--instruction".into(), i.clone()]);
        }
        if let Some(img) = input.images.first() {
            args.extend(["--image".into(), fixtures_dir().join(img).display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (json, stderr) = embed_json(&model, &args);
        assert!(stderr.contains(&format!("device: {device}")), "{stderr}");
        let got = embedding(&json);
        assert_eq!(json["dim"], 64);
        assert_eq!(json["model"], model.to_str().unwrap());
        let err = max_abs_diff(&got, &Reference::load(&case.name).float("embedding").values);
        assert!(err <= CLI_TOL, "{device} {extra:?} {}: max |err| {err:e}", case.name);
        worst = worst.max(err);
    }
    println!("cli {device} {extra:?}: max |err| {worst:.2e}");
}

#[test]
fn cli_reproduces_reference_on_cpu() {
    check_cases("cpu", &ALL_CASES, &[]);
}

/// `--precision bf16` keeps the linear weights in bf16 and computes in f32. The fixture
/// checkpoint is bf16, as the released ones are, so the reference's numbers still hold.
#[test]
fn cli_bf16_weights_reproduce_reference_on_cpu() {
    check_cases("cpu", &["text", "text_image"], &["--precision", "bf16"]);
}

/// `--precision int8`: int8 linear weights; close to the reference, not equal to it.
#[test]
fn cli_int8_weights_stay_close_on_cpu() {
    let (json, _) = embed_json(
        &unseen_model_dir(),
        &[
            "--text",
            "Turn off Night Shift",
            "--instruction",
            "Retrieve the settings action that matches the user's request",
            "--device",
            "cpu",
            "--precision",
            "int8",
        ],
    );
    let got = embedding(&json);
    let reference = Reference::load("text");
    let cosine: f32 = got.iter().zip(&reference.float("embedding").values).map(|(a, b)| a * b).sum();
    assert!((0.999..1.0 - 1e-7).contains(&cosine), "int8 cosine to the f32 reference: {cosine}");
}

#[test]
fn cli_reproduces_reference_on_wgpu() {
    check_cases("wgpu", if reference_fixtures::full_matrix() { &ALL_CASES } else { &WGPU_CI_CASES }, &[]);
}

#[test]
fn cli_dim_truncates_and_renormalises() {
    let (json, _) = embed_json(
        &unseen_model_dir(),
        &[
            "--text",
            "Turn off Night Shift",
            "--instruction",
            "Retrieve the settings action that matches the user's request",
            "--dim",
            "32",
            "--device",
            "cpu",
        ],
    );
    let got = embedding(&json);
    assert_eq!(json["dim"], 32);
    assert!(max_abs_diff(&got, &Reference::load("text").float("embedding_dim32").values) <= CLI_TOL);
}

#[test]
fn cli_errors_go_to_stderr_with_failure_exit() {
    let model = unseen_model_dir();
    let m = model.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["embed", "--model", m, "--text", "x", "--device", "tpu"], "unknown device"),
        (&["embed", "--model", m, "--device", "cpu"], "empty input"),
        (&["embed", "--model", m, "--text", " ", "--device", "cpu"], "empty input"),
        (&["embed", "--model", m, "--image", "/no/such.png", "--device", "cpu"], "/no/such.png"),
        (&["embed", "--model", "./not-a-model", "--text", "x", "--device", "cpu"], "not a model directory"),
        (&["embed", "--model", m, "--text", "x", "--precision", "f64"], "invalid value 'f64'"),
        (
            &["embed", "--model", m, "--text", "x", "--device", "wgpu", "--precision", "bf16"],
            "bf16 weights need the CPU",
        ),
    ];
    for (args, needle) in cases {
        let out = bin().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
