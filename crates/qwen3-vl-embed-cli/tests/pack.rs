//! `pack` / `unpack`: an index directory through one packed file and back answers every query
//! exactly as the original (ids and scores), and hostile or misplaced inputs are typed errors
//! that write nothing.

mod common;

use common::*;
use reference_fixtures::tiny_model_dir;
use serde_json::Value;

fn answers(index: &std::path::Path) -> Vec<Value> {
    ["Turn off Night Shift", "send an email", "Star this repo"]
        .iter()
        .map(|task| {
            let args = ["query", s(index), "--json", "--device", "cpu", "--text", task, "--domain", "github.com"];
            serde_json::from_str::<Value>(&ok(&args).0).unwrap()["results"].clone()
        })
        .collect()
}

#[test]
fn pack_then_unpack_answers_as_the_original_and_bad_inputs_write_nothing() {
    let model = model_copy("pack-model", &tiny_model_dir());
    let (index_dir, packed, back) = (tmp("pack-index"), tmp("pack-file"), tmp("pack-back"));
    index(&model, &library().join("episodes"), &index_dir);
    let (out, _) = ok(&["pack", s(&index_dir), "--out", s(&packed)]);
    assert!(out.contains("packed 5 demos"), "{out}");
    let (out, _) = ok(&["unpack", s(&packed), "--out", s(&back)]);
    assert!(out.contains("unpacked 5 demos"), "{out}");
    assert_eq!(answers(&back), answers(&index_dir), "the same ids, scores and demos");
    assert_eq!(demo_ids(&back), demo_ids(&index_dir));

    // unpack never writes into a directory that holds something.
    let before = snapshot(&back);
    fails(&["unpack", s(&packed), "--out", s(&back)], 2, "is not empty");
    assert_eq!(snapshot(&back), before);
    // pack --out naming a directory is refused.
    fails(&["pack", s(&index_dir), "--out", s(&back)], 2, "is a directory");

    // Damaged files: every flipped byte region and a truncation fail with exit 4, creating nothing.
    let bytes = std::fs::read(&packed).unwrap();
    let bad = tmp("pack-bad");
    let fresh = tmp("pack-never");
    for (what, damaged) in [
        ("flipped byte", {
            let mut b = bytes.clone();
            b[bytes.len() / 2] ^= 0x40;
            b
        }),
        ("truncated", bytes[..bytes.len() - 7].to_vec()),
        ("not a pack", b"{\"hello\": 1}".to_vec()),
    ] {
        std::fs::write(&bad, &damaged).unwrap();
        let stderr = fails(&["unpack", s(&bad), "--out", s(&fresh)], 4, "packed library");
        assert!(!fresh.exists(), "{what}: {stderr}");
    }
    // A device is refused before it is read (it would never end).
    fails(&["unpack", "/dev/zero", "--out", s(&fresh)], 4, "not a regular file");
    assert!(!fresh.exists());
    // pack of a directory that is no index says so (exit 4) and writes no file.
    fails(&["pack", s(&model), "--out", s(&fresh)], 4, "manifest");
    assert!(!fresh.exists());

    for p in [&index_dir, &back, &model] {
        std::fs::remove_dir_all(p).unwrap();
    }
    for p in [&packed, &bad] {
        std::fs::remove_file(p).unwrap();
    }
}
