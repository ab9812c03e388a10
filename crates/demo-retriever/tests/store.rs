//! The index directory's save protocol through the library API (`demo_retriever::store`):
//! `save` takes the writer lock, leftovers of a save that did not commit are ignored by loads
//! and swept by the next save, and readers racing a writer always load one whole generation.
//! Vectors come from a stand-in embedder (a fixed function of the text), so nothing here needs
//! the model; the kill and EIO cases run against the binary in the CLI's `crash_safety.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use demo_retriever::{Demo, DemoRetriever, EmbedBatch, IndexLock, RetrieverError, RetrieverSettings, check_out_dir};
use qwen3_vl_embedder::{EmbedError, EmbedInput};

/// A unit vector from the text's bytes: distinct texts, distinct vectors.
struct Fake;

impl EmbedBatch for Fake {
    fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(inputs
            .iter()
            .map(|i| {
                let seed = i.text.as_deref().unwrap_or("").bytes().fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b));
                let v: Vec<f32> = (0..dim as u32)
                    .map(|k| (seed.wrapping_add(k.wrapping_mul(2_654_435_761)) % 1000) as f32 + 1.0)
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demo-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn demo(id: &str) -> Demo {
    let episode = serde_json::json!({"episode_id": id, "instruction": format!("Do task {id}")});
    Demo::from_episode_json(&episode.to_string(), Path::new(".")).unwrap()
}

fn built(ids: &[&str]) -> DemoRetriever {
    let mut r = DemoRetriever::new(RetrieverSettings::new("fake", 8)).unwrap();
    r.add_demos(ids.iter().map(|id| demo(id))).unwrap();
    r.build_index(&Fake, 8, &mut |_| {}).unwrap();
    r
}

fn ids(r: &DemoRetriever) -> Vec<String> {
    r.demos().map(|d| d.demo_id.clone()).collect()
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(files(&path)) } else { out.push((path.clone(), std::fs::read(&path).unwrap())) }
    }
    out.sort();
    out
}

#[test]
fn save_takes_the_writer_lock_and_a_locked_directory_is_left_as_it_was() {
    let dir = temp_dir("lock");
    built(&["a"]).save(&dir).unwrap();
    let before = files(&dir);
    let lock = IndexLock::try_acquire(&dir).unwrap();
    let err = built(&["a", "b"]).save(&dir).unwrap_err();
    assert!(matches!(err, RetrieverError::Locked { .. }), "{err}");
    assert_eq!(files(&dir), before, "a save refused by the lock wrote something");
    // The holder of the lock saves through it.
    built(&["a", "b"]).save_locked(&lock).unwrap();
    drop(lock);
    assert_eq!(ids(&DemoRetriever::load(&dir).unwrap()), ["a", "b"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn leftovers_of_a_save_that_did_not_commit_are_ignored_then_swept() {
    let dir = temp_dir("leftovers");
    // A first save that never committed leaves a directory that is still "empty" for `index --out`.
    std::fs::create_dir_all(dir.join("gen-1")).unwrap();
    std::fs::create_dir_all(dir.join("demos")).unwrap();
    std::fs::write(dir.join("gen-1/index.json"), "{ torn").unwrap();
    std::fs::write(dir.join("manifest.json.tmp"), "{ torn").unwrap();
    check_out_dir(&dir).unwrap();
    assert!(DemoRetriever::load(&dir).is_err(), "nothing was committed");

    built(&["a", "b"]).save(&dir).unwrap();
    // What a save killed before its commit leaves: the next generation half written, a torn
    // manifest, a demo file's temporary.
    std::fs::create_dir_all(dir.join("gen-2")).unwrap();
    std::fs::write(dir.join("gen-2/index.json"), "{ torn").unwrap();
    std::fs::write(dir.join("manifest.json.tmp"), "{ torn").unwrap();
    std::fs::write(dir.join("demos/0000.json.tmp"), "{ torn").unwrap();
    let loaded = DemoRetriever::load(&dir).unwrap();
    assert_eq!(ids(&loaded), ["a", "b"]);

    let mut r = loaded;
    r.add_demo(demo("c"));
    r.build_index(&Fake, 8, &mut |_| {}).unwrap();
    r.save(&dir).unwrap();
    assert_eq!(ids(&DemoRetriever::load(&dir).unwrap()), ["a", "b", "c"]);
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["demos", "gen-2", "lock", "manifest.json"], "leftovers were not swept");
    assert_eq!(std::fs::read_dir(dir.join("demos")).unwrap().count(), 3, "one file per demo, no temporaries");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn readers_racing_a_writer_always_load_one_whole_generation() {
    let dir = temp_dir("race");
    let mut r = built(&["d00"]);
    r.save(&dir).unwrap();
    let done = AtomicBool::new(false);
    let loads = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = BTreeSet::new();
            while !done.load(Ordering::Relaxed) {
                let loaded = DemoRetriever::load(&dir).unwrap_or_else(|e| panic!("a reader failed: {e}"));
                // Generation k holds exactly d00..=dk: never part of one and part of another.
                let got = ids(&loaded);
                let want: Vec<String> = (0..got.len()).map(|k| format!("d{k:02}")).collect();
                assert_eq!(got, want);
                seen.insert(got.len());
            }
            seen.len()
        });
        for k in 1..30 {
            r.add_demo(demo(&format!("d{k:02}")));
            r.build_index(&Fake, 8, &mut |_| {}).unwrap();
            r.save(&dir).unwrap();
        }
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(loads >= 1);
    assert_eq!(DemoRetriever::load(&dir).unwrap().len(), 30);
    std::fs::remove_dir_all(&dir).unwrap();
}
