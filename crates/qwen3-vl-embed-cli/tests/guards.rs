//! Guarded outputs and bounded inputs, from the binary: `index --out` never writes into the
//! user's own files, image inputs are bounded before they are read, broken models give no
//! vectors, stdout errors and bad flag values are ordinary failures with their exit code, a
//! bad cache line heals, `--skip-bad` skips undecodable screenshots, and paths need not be
//! UTF-8. Every exit code asserted here is in the README's table.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use reference_fixtures::tiny_model_dir;

/// A screenshot of the sample library, copied next to episodes written by a test.
fn screenshot() -> PathBuf {
    library().join("screenshots/notepad_save.png")
}

/// A small index of text-only demos (cheap to embed) with a private copy of the tiny model.
fn text_index(name: &str, ids: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    let model = model_copy(&format!("{name}-model"), &tiny_model_dir());
    let (lib, idx) = (tmp(&format!("{name}-lib")), tmp(&format!("{name}-index")));
    text_library(&lib, ids);
    index(&model, &lib, &idx);
    (model, lib, idx)
}

#[test]
fn index_out_refuses_a_directory_of_user_files_and_changes_nothing() {
    let user = tmp("user-files");
    std::fs::create_dir_all(user.join("episodes")).unwrap();
    std::fs::write(user.join("notes.txt"), "mine").unwrap();
    std::fs::write(user.join("episodes/old.json"), "{}").unwrap();
    let before = snapshot(&user);
    let lib = tmp("out-lib");
    text_library(&lib, &["a"]);
    // A model that does not exist: the refusal must come first, before any model is sought.
    let args = ["index", s(&lib), "--out", s(&user), "--model", "/no/such/model", "--device", "cpu"];
    fails(&args, 2, "refusing to write an index into");
    assert_eq!(snapshot(&user), before, "the user's files changed");
    let file = user.join("notes.txt");
    fails(&["index", s(&lib), "--out", s(&file), "--model", "/no/such/model"], 2, "is not a directory");
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
    // An empty directory, or one holding only a lock file left by a failed run, is fine.
    let (model, empty) = (model_copy("out-model", &tiny_model_dir()), tmp("out-empty"));
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("lock"), "").unwrap();
    index(&model, &lib, &empty);
    assert_eq!(demo_ids(&empty), ["a"]);
    for d in [&user, &lib, &model, &empty] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// Runs the binary with a deadline: a FIFO must not make it wait for a writer.
fn run_with_deadline(args: &[&OsStr], limit: Duration) -> std::process::Output {
    let mut child = bin().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("{args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn image_inputs_are_refused_before_reading_when_not_regular_or_too_large() {
    let (model, lib, idx) = text_index("bounded", &["a"]);
    let dir = tmp("bounded-files");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.png");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let sparse = dir.join("huge.png");
    let limit = qwen3_vl_embedder::MAX_IMAGE_FILE_BYTES;
    std::fs::File::create(&sparse).unwrap().set_len(limit + 1).unwrap();
    let cases: [(&Path, &str); 4] = [
        (Path::new("/dev/zero"), "a character device, not a regular file"),
        (&fifo, "a FIFO (named pipe), not a regular file"),
        (&dir, "a directory, not a regular file"),
        (&sparse, &format!("{} bytes, more than the {limit}-byte limit", limit + 1)),
    ];
    for (path, needle) in cases {
        for cmd in ["embed", "query"] {
            let mut args: Vec<&OsStr> = vec![cmd.as_ref()];
            if cmd == "embed" {
                args.extend([OsStr::new("--model"), model.as_os_str()]);
            } else {
                args.push(idx.as_os_str());
            }
            args.extend([OsStr::new("--image"), path.as_os_str(), OsStr::new("--device"), OsStr::new("cpu")]);
            let out = run_with_deadline(&args, Duration::from_secs(30));
            check_failure(&format!("{cmd} {}", path.display()), &out, 1, needle);
        }
    }
    for d in [&model, &lib, &idx, &dir] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// A copy of the tiny model whose final norm weights (bf16) are all `bytes`.
fn model_with_final_norm(name: &str, bytes: [u8; 2]) -> PathBuf {
    let dir = model_copy(name, &tiny_model_dir());
    let path = dir.join("model.safetensors");
    let mut data = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(data[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&data[8..8 + n]).unwrap();
    let tensor = &header["model.language_model.norm.weight"];
    assert_eq!(tensor["dtype"], "BF16");
    let [start, end] = [0, 1].map(|i| 8 + n + tensor["data_offsets"][i].as_u64().unwrap() as usize);
    for pair in data[start..end].chunks_exact_mut(2) {
        pair.copy_from_slice(&bytes);
    }
    std::fs::write(&path, data).unwrap();
    dir
}

#[test]
fn nan_or_zero_weights_give_an_error_naming_the_input_not_a_vector() {
    let nan = model_with_final_norm("nan-model", [0xC0, 0x7F]);
    let zero = model_with_final_norm("zero-model", [0, 0]);
    fn embed(m: &Path) -> [&str; 8] {
        ["embed", "--model", s(m), "--text", "Turn off Night Shift", "--device", "cpu", "--json"]
    }
    fails(&embed(&nan), 1, "the embedding of text \"Turn off Night Shift\" is not finite");
    fails(&embed(&zero), 1, "is all zeros");
    let (lib, idx) = (tmp("nan-lib"), tmp("nan-index"));
    text_library(&lib, &["a"]);
    fails(&["index", s(&lib), "--out", s(&idx), "--model", s(&nan), "--device", "cpu"], 1, "is not finite");
    assert!(!idx.join("manifest.json").exists(), "an index was saved from NaN vectors");
    for d in [&nan, &zero, &lib] {
        std::fs::remove_dir_all(d).unwrap();
    }
    let _ = std::fs::remove_dir_all(&idx);
}

#[test]
fn stdout_write_errors_are_failures_not_panics() {
    let (model, lib, idx) = text_index("stdout", &["a"]);
    let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    };
    let runs: [(&[&str], Stdio, &str); 4] = [
        (&["info", s(&idx)], full(), "No space left"),
        (&["info", s(&idx), "--json"], closed(), "Broken pipe"),
        (&["query", s(&idx), "--text", "a", "--device", "cpu"], closed(), "Broken pipe"),
        (&["embed", "--model", s(&model), "--text", "a", "--device", "cpu"], full(), "No space left"),
    ];
    for (args, stdout, needle) in runs {
        let out = bin().args(args).stdout(stdout).stderr(Stdio::piped()).output().unwrap();
        check_failure(&format!("{args:?}"), &out, 1, "cannot write the result to stdout");
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle), "{args:?}");
    }
    for d in [&model, &lib, &idx] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn bad_flag_values_are_usage_errors_before_any_model_is_loaded() {
    let lib = tmp("flags-lib");
    text_library(&lib, &["a"]);
    let out = tmp("flags-out");
    let no_model = "/no/such/model";
    let cases: [&[&str]; 5] = [
        &["embed", "--model", no_model, "--text", "x", "--dim", "0"],
        &["embed", "--model", no_model, "--text", "x", "--dim=-3"],
        &["index", s(&lib), "--out", s(&out), "--model", no_model, "--dim", "0"],
        &["index", s(&lib), "--out", s(&out), "--model", no_model, "--batch-size", "0"],
        &["query", s(&out), "--text", "x", "--top-k", "0"],
    ];
    for args in cases {
        let stderr = fails(args, 2, "invalid value");
        assert!(!stderr.contains("no/such/model"), "{args:?} looked for the model: {stderr}");
    }
    assert!(!out.exists(), "a refused command created the output directory");
    // Empty input and a --dim wider than the model are usage errors too (2), after loading.
    let model = model_copy("flags-model", &tiny_model_dir());
    fails(&["embed", "--model", s(&model), "--text", " ", "--device", "cpu"], 2, "empty input");
    fails(&["embed", "--model", s(&model), "--text", "x", "--dim", "65", "--device", "cpu"], 2, "choose 1..=64");
    for d in [&lib, &model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// The (key, vector) lines of an index's embedding cache.
fn cache_entries(idx: &Path) -> Vec<(String, Vec<f64>)> {
    let text = std::fs::read_to_string(cache_file(idx)).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let vector = v["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            (v["key"].as_str().unwrap().to_owned(), vector)
        })
        .collect()
}

#[test]
fn bad_cache_lines_are_dropped_with_a_warning_and_re_embedded() {
    let ids = ["a", "b", "c", "d", "e"];
    let (model, lib, idx) = text_index("cache", &ids);
    let good = cache_entries(&idx);
    let path = cache_file(&idx);
    let mut lines: Vec<Vec<u8>> = std::fs::read(&path).unwrap().split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    lines[0] = b"{\"key\": \"broken".to_vec();
    lines[1][12] = 0xff; // a byte that is not UTF-8, inside the key
    let (key2, v2) = &good[2];
    lines[2] = serde_json::json!({"key": key2, "vector": &v2[1..]}).to_string().into_bytes();
    let (key3, v3) = &good[3];
    let mut inf = serde_json::json!({"key": key3, "vector": v3}).to_string();
    inf = inf.replacen(&format!("[{}", serde_json::json!(v3[0])), "[1e39", 1);
    lines[3] = inf.into_bytes();
    std::fs::write(&path, lines.join(&b'\n')).unwrap();

    let (stdout, stderr) =
        ok(&["index", s(&lib), "--out", s(&idx), "--model", s(&model), "--device", "cpu", "--batch-size", "3"]);
    for needle in ["line 1: not a cache entry", "line 2: not a cache entry", "line 4: the vector is not finite"] {
        assert!(stderr.contains(&format!("warning: embedding_cache.jsonl {needle}")), "{needle}: {stderr}");
    }
    assert!(stderr.contains("63 components, expected 64"), "{stderr}");
    assert!(stdout.contains("embedded 4, reused 1"), "{stdout}");
    // The file is whole again: the same keys, and vectors equal to the first build's.
    let healed = cache_entries(&idx);
    assert_eq!(healed.len(), good.len());
    for ((k1, v1), (k2, v2)) in healed.iter().zip(&good) {
        assert_eq!(k1, k2);
        assert!(v1.iter().zip(v2).all(|(a, b)| (a - b).abs() <= 1e-6), "{k1}");
    }
    let (_, stderr) = ok(&["add", s(&idx), s(&lib), "--device", "cpu"]);
    assert!(!stderr.contains("warning"), "{stderr}");
    for d in [&model, &lib, &idx] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn skip_bad_skips_undecodable_and_oversized_screenshots_naming_demo_and_file() {
    let (model, base, idx) = text_index("skipshot", &["kept"]);
    let lib = tmp("skipshot-more");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really a png").unwrap();
    std::fs::File::create(lib.join("huge.png")).unwrap().set_len(qwen3_vl_embedder::MAX_IMAGE_FILE_BYTES + 1).unwrap();
    std::fs::copy(screenshot(), lib.join("fine.png")).unwrap();
    for (id, shot) in [("broken_shot", "broken.png"), ("huge_shot", "huge.png"), ("good", "fine.png")] {
        let episode =
            serde_json::json!({"episode_id": id, "instruction": format!("Task {id}"), "screenshot_path": shot});
        std::fs::write(lib.join(format!("{id}.json")), episode.to_string()).unwrap();
    }
    // Replacing an indexed demo by one with a broken screenshot: skipped, the old one stays.
    let replaced =
        serde_json::json!({"episode_id": "kept", "instruction": "New goal", "screenshot_path": "broken.png"});
    std::fs::write(lib.join("kept.json"), replaced.to_string()).unwrap();
    let before = snapshot(&idx);
    let stderr = fails(&["add", s(&idx), s(&lib), "--device", "cpu"], 3, "huge.png");
    assert!(stderr.contains("demo huge_shot"), "{stderr}");
    assert_eq!(snapshot(&idx), before, "a failed add changed the index");
    // Alone, the undecodable screenshot is named with its demo (found by embedding).
    let only_broken = tmp("skipshot-broken");
    std::fs::create_dir_all(&only_broken).unwrap();
    std::fs::copy(lib.join("broken.png"), only_broken.join("broken.png")).unwrap();
    std::fs::copy(lib.join("broken_shot.json"), only_broken.join("broken_shot.json")).unwrap();
    let stderr = fails(&["add", s(&idx), s(&only_broken), "--device", "cpu"], 3, "could not decode PNG image");
    assert!(stderr.contains("demo broken_shot") && stderr.contains("broken.png"), "{stderr}");

    let (stdout, stderr) = ok(&["add", s(&idx), s(&lib), "--skip-bad", "--device", "cpu", "--batch-size", "4"]);
    for (id, file) in [("broken_shot", "broken.png"), ("huge_shot", "huge.png"), ("kept", "broken.png")] {
        let warned = stderr.lines().any(|l| l.contains("warning: skipping") && l.contains(id) && l.contains(file));
        assert!(warned, "{id}: {stderr}");
    }
    assert!(stdout.contains("now holds 2"), "{stdout}");
    assert_eq!(demo_ids(&idx), ["good", "kept"]);
    let (info, _) = ok(&["info", s(&idx)]);
    assert!(info.contains("kept  Do task kept"), "the replaced demo keeps its indexed version: {info}");
    for d in [&model, &base, &idx, &lib, &only_broken] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_library_and_an_index_under_non_utf8_names_work_without_panics() {
    let root = tmp("non-utf8");
    let lib = root.join(OsStr::from_bytes(b"lib-\xff"));
    let idx = root.join(OsStr::from_bytes(b"index-\xfe"));
    text_library(&lib, &["plain"]);
    std::fs::copy(screenshot(), lib.join("shot.png")).unwrap();
    let episode =
        serde_json::json!({"episode_id": "shot", "instruction": "With a screenshot", "screenshot_path": "shot.png"});
    std::fs::write(lib.join("shot.json"), episode.to_string()).unwrap();
    let model = model_copy("non-utf8-model", &tiny_model_dir());
    fn index_args<'a>(lib: &'a Path, idx: &'a Path, model: &'a Path, extra: &'a str) -> Vec<&'a OsStr> {
        let mut a: Vec<&OsStr> = vec!["index".as_ref(), lib.as_os_str(), "--out".as_ref(), idx.as_os_str()];
        a.extend(["--model", s(model), "--device", "cpu", extra].map(OsStr::new));
        a
    }
    let index_args = |extra| index_args(&lib, &idx, &model, extra);
    let out = run_with_deadline(&index_args("--batch-size=2"), Duration::from_secs(60));
    check_failure("index without --skip-bad", &out, 3, "is not valid UTF-8");
    let out = run_with_deadline(&index_args("--skip-bad"), Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("warning: skipping") && stderr.contains("shot.png"), "{stderr}");
    for json in [true, false] {
        let mut cmd = bin();
        cmd.arg("info").arg(&idx);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("plain"));
    }
    for d in [&root, &model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
