//! Concurrent writers of one index: each `add` either succeeds and its demos are in the index
//! afterwards, or fails at once with the lock error (exit 5) and changes nothing.

mod common;

use std::process::Stdio;

use common::*;
use reference_fixtures::tiny_model_dir;

/// Runs `n` `add`s of distinct one-demo libraries at once; checks every reported success is
/// in the index and every failure is the lock error. Returns the ids that were added.
fn concurrent_adds(idx: &std::path::Path, round: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("{round}_{i}")).collect();
    let libs: Vec<_> = ids
        .iter()
        .map(|id| {
            let lib = tmp(&format!("lib-{id}"));
            text_library(&lib, &[id]);
            lib
        })
        .collect();
    let children: Vec<_> = libs
        .iter()
        .map(|lib| {
            bin()
                .args(["add", s(idx), s(lib), "--device", "cpu"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut added = Vec::new();
    for (id, child) in ids.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            added.push(id.clone());
        } else {
            check_failure(&format!("add {id}"), &out, 5, "another command is writing this index");
        }
    }
    assert!(!added.is_empty(), "{round}: no add succeeded");
    println!("{round}: {} of {n} adds succeeded, the others got the lock error", added.len());
    for lib in libs {
        std::fs::remove_dir_all(lib).unwrap();
    }
    added
}

/// `n` writers at once, each retrying after the lock error until it succeeds, as a script
/// would: all `n` demos end up in the index (without the lock, saves overwrote each other).
fn adds_retrying_on_the_lock_error(idx: &std::path::Path, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("retry_{i}")).collect();
    std::thread::scope(|scope| {
        for id in &ids {
            scope.spawn(move || {
                let lib = tmp(&format!("lib-{id}"));
                text_library(&lib, &[id]);
                // A deadline, not a count of tries: on a loaded machine each add holds the lock
                // for seconds, and the others may lose several rounds in a row.
                let start = std::time::Instant::now();
                while start.elapsed() < std::time::Duration::from_secs(180) {
                    let out = bin().args(["add", s(idx), s(&lib), "--device", "cpu"]).output().unwrap();
                    if out.status.success() {
                        std::fs::remove_dir_all(&lib).unwrap();
                        return;
                    }
                    check_failure(&format!("add {id}"), &out, 5, "another command is writing this index");
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                panic!("add {id} never got the lock");
            });
        }
    });
    ids
}

#[test]
fn concurrent_adds_lose_nothing_and_losers_get_the_lock_error() {
    let model = model_copy("lock-model", &tiny_model_dir());
    let idx = tmp("lock-index");
    let first = tmp("lock-first");
    text_library(&first, &["base_0", "base_1"]);
    index(&model, &first, &idx);
    let mut want = vec!["base_0".to_owned(), "base_1".to_owned()];
    want.extend(concurrent_adds(&idx, "two", 2));
    want.extend(concurrent_adds(&idx, "four", 4));
    want.extend(adds_retrying_on_the_lock_error(&idx, 4));
    want.sort();
    assert_eq!(demo_ids(&idx), want, "every add that reported success is in the index, and nothing else");
    for d in [&idx, &first, &model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_held_lock_fails_a_writer_at_once_and_changes_nothing() {
    let model = model_copy("held-model", &tiny_model_dir());
    let idx = tmp("held-index");
    let lib = tmp("held-lib");
    text_library(&lib, &["a"]);
    index(&model, &lib, &idx);
    let before = snapshot(&idx);
    let more = tmp("held-more");
    text_library(&more, &["b"]);
    let lock = demo_retriever::IndexLock::try_acquire(&idx).unwrap();
    fails(&["add", s(&idx), s(&more), "--device", "cpu"], 5, "another command is writing this index");
    fails(&["index", s(&more), "--out", s(&idx), "--device", "cpu"], 5, "another command is writing this index");
    assert_eq!(snapshot(&idx), before, "a writer refused by the lock changed the index");
    drop(lock);
    ok(&["add", s(&idx), s(&more), "--device", "cpu"]);
    assert_eq!(demo_ids(&idx), ["a", "b"]);
    for d in [&idx, &lib, &more, &model] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
