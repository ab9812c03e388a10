//! Crash safety of `Index::save`: a file system that fails at any single step of a save, and a
//! load (or open) afterwards that must find the old index or the new one, whole, never a mix.

mod common;

use std::cell::Cell;
use std::collections::HashSet;
use std::io;
use std::path::Path;

use common::{Observed, TempDir, config, small_index, snapshot};
use serde_json::json;
use vector_index::fs::{Fs, StdFs};
use vector_index::synthetic::clustered;
use vector_index::{Error, Index, Strategy};

/// A file system that "crashes" at its `fail_at`-th mutating operation: that operation fails
/// (a write leaves a torn half-written file) and so does every later one.
struct CrashingFs {
    fail_at: usize,
    ops: Cell<usize>,
}

impl CrashingFs {
    fn new(fail_at: usize) -> Self {
        Self { fail_at, ops: Cell::new(0) }
    }

    /// Counts one mutating operation; `Err` once the crash point is reached.
    fn step(&self) -> io::Result<()> {
        let n = self.ops.get();
        self.ops.set(n + 1);
        if n >= self.fail_at { Err(io::Error::other("injected crash")) } else { Ok(()) }
    }

    fn crashed(&self) -> bool {
        self.ops.get() > self.fail_at
    }
}

impl Fs for CrashingFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.step()?;
        StdFs.create_dir_all(dir)
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        if self.ops.get() == self.fail_at {
            let _ = StdFs.write_synced(path, &bytes[..bytes.len() / 2]);
        }
        self.step()?;
        StdFs.write_synced(path, bytes)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step()?;
        StdFs.rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.step()?;
        StdFs.sync_dir(dir)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.step()?;
        StdFs.remove_file(path)
    }

    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        StdFs.file_len(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        StdFs.read(path)
    }
}

/// Crash a save at every step, then crash the *next* save at every step as well (its recovery
/// of the first one included): a load always yields one of the indexes saved, whole.
#[test]
fn a_crash_at_any_step_of_a_save_leaves_the_old_or_the_new_index() {
    let old = small_index(5, "old", Strategy::Exact);
    let new = small_index(8, "new", Strategy::Hnsw); // has hnsw.bin, `old` does not
    let newer = small_index(3, "newer", Strategy::Exact);
    let states = [snapshot(&old), snapshot(&new), snapshot(&newer)];
    let mut crash_points = 0;
    for first in 0.. {
        let dir = TempDir::new("crash");
        old.save(&dir.0).unwrap();
        let fs = CrashingFs::new(first);
        let result = new.save_with(&dir.0, &fs);
        if !fs.crashed() {
            result.unwrap();
            assert_eq!(snapshot(&Index::load(&dir.0).unwrap()), states[1]);
            break;
        }
        assert!(matches!(result, Err(Error::Save { .. })));
        crash_points += 1;
        let after_first = snapshot(&Index::load(&dir.0).unwrap());
        assert!(after_first == states[0] || after_first == states[1], "crash at step {first} mixed the indexes");
        for second in 0.. {
            let copy = TempDir::new("crash2");
            for entry in std::fs::read_dir(&dir.0).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), copy.join(entry.file_name().to_str().unwrap())).unwrap();
            }
            let fs = CrashingFs::new(second);
            let result = newer.save_with(&copy.0, &fs);
            let loaded = snapshot(&Index::load(&copy.0).unwrap());
            if !fs.crashed() {
                result.unwrap();
                assert_eq!(loaded, states[2]);
                break;
            }
            assert!(loaded == after_first || loaded == states[2], "crash at steps {first}/{second} mixed the indexes");
        }
    }
    assert!(crash_points >= 8, "the save protocol has at least 8 crash points, saw {crash_points}");
}

const DIM: usize = 16;

/// Brute-force top `k` `(id, score)` for `query` over the index's stored vectors (f64 dot
/// products; stored vectors and `query` are unit length), independent of the crate's search.
fn brute_force(index: &Index, query: &[f32], k: usize) -> Vec<(String, f64)> {
    let mut all: Vec<(String, f64)> = index
        .iter()
        .map(|item| (item.id.to_string(), item.vector.iter().zip(query).map(|(a, b)| *a as f64 * *b as f64).sum()))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

/// `got` is a correct top `k`: position by position its scores equal brute force's, and each
/// id's reported score is its true one (ids may differ only between equal scores).
fn assert_exact_top_k(index: &Index, query: &[f32], got: &[(String, f32)], truth: &[(String, f64)]) {
    assert_eq!(got.len(), truth.len());
    for ((id, score), (_, want)) in got.iter().zip(truth) {
        assert!((*score as f64 - want).abs() < 1e-5, "{id}: {score} vs brute force {want}");
        let own: f64 = index.get(id).unwrap().vector.iter().zip(query).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!((*score as f64 - own).abs() < 1e-5, "{id}: reported {score}, true {own}");
    }
}

/// The state a loaded index must match: its items, and its searches over `queries` (the graph
/// search of the index as it was saved, and brute force), so a torn graph would show even
/// where the items are whole.
struct Expected {
    observed: Observed,
    hnsw: Vec<Vec<(String, f32)>>,
    truth: Vec<Vec<(String, f64)>>,
}

impl Expected {
    fn of(index: &Index, queries: &[Vec<f32>]) -> Self {
        Self {
            observed: snapshot(index),
            hnsw: queries.iter().map(|q| index.search_with(q, 10, Strategy::Hnsw, None).unwrap()).collect(),
            truth: queries.iter().map(|q| brute_force(index, q, 10)).collect(),
        }
    }

    /// Whether `loaded` is this state: same items, the same graph search results, exact search
    /// equal to brute force, and the graph search's recall@10 against brute force >= 0.9.
    fn matches(&self, loaded: &Index, queries: &[Vec<f32>]) -> bool {
        if snapshot(loaded) != self.observed {
            return false;
        }
        assert!(loaded.has_graph(), "both states have a graph, and a load never drops it");
        let (mut hits, mut want) = (0, 0);
        for ((q, hnsw), truth) in queries.iter().zip(&self.hnsw).zip(&self.truth) {
            let got = loaded.search_with(q, 10, Strategy::Hnsw, None).unwrap();
            assert_eq!(&got, hnsw, "same items but a different graph search: the graph was mixed");
            assert_exact_top_k(loaded, q, &loaded.search_with(q, 10, Strategy::Exact, None).unwrap(), truth);
            let truth: HashSet<&String> = truth.iter().map(|t| &t.0).collect();
            hits += got.iter().filter(|h| truth.contains(&h.0)).count();
            want += truth.len();
        }
        assert!(hits * 10 >= want * 9, "graph recall@10 {hits}/{want} against brute force");
        true
    }
}

/// Insert-and-save with a graph: an index above `hnsw_min_items` is saved; it is then loaded,
/// grown (a bulk `add_batch` large enough to go parallel, single `add`s, a replacement and a
/// removal, all linked into the live graph) and saved again with a crash injected at step `i`,
/// for every `i`. A load then gives exactly the old index or exactly the new one (items,
/// vectors, graph searches, exact searches against brute force), and a later save after the
/// crash succeeds and loads as the new index.
#[test]
fn a_crash_at_any_step_of_an_insert_and_save_leaves_the_old_or_the_new_index() {
    let data = clustered(1700, DIM, 30, 1.0, 41, 42);
    let item = |i: usize| (format!("item-{i}"), data[i * DIM..(i + 1) * DIM].to_vec(), json!({"i": i}));
    let mut config = config(DIM, Strategy::Auto);
    config.hnsw_min_items = 1000;
    let mut old = Index::new(config).unwrap();
    old.add_batch((0..1100).map(item)).unwrap();
    assert!(old.has_graph(), "above hnsw_min_items");
    let template = TempDir::new("insert-crash-old");
    old.save(&template.0).unwrap();
    let queries: Vec<Vec<f32>> = clustered(30, DIM, 30, 1.0, 41, 43).chunks_exact(DIM).map(<[f32]>::to_vec).collect();
    let old_state = Expected::of(&old, &queries);

    // Open the saved index and grow it in place: 1100 nodes already linked, so the 580 rows of
    // the batch go in parallel; then single inserts, a replacement and a removal. Every crash
    // below saves this same grown index over a fresh copy of the saved one.
    let mut new = Index::load(&template.0).unwrap();
    new.add_batch((1100..1680).map(item)).unwrap();
    for i in 1680..1700 {
        let (id, v, m) = item(i);
        new.add(id, &v, m).unwrap();
    }
    new.add("item-3", &data[..DIM], json!("replaced")).unwrap();
    new.remove("item-5").unwrap();
    assert_eq!(new.len(), 1699);
    let new_state = Expected::of(&new, &queries);
    let (mut crash_points, mut loaded_old) = (0, 0);
    for step in 0.. {
        let dir = TempDir::new("insert-crash");
        for entry in std::fs::read_dir(&template.0).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.0.join(entry.file_name())).unwrap();
        }
        let fs = CrashingFs::new(step);
        let result = new.save_with(&dir.0, &fs);
        let loaded = Index::load(&dir.0).unwrap();
        if !fs.crashed() {
            result.unwrap();
            assert!(new_state.matches(&loaded, &queries), "an uninterrupted save loads as the new index");
            break;
        }
        assert!(matches!(result, Err(Error::Save { .. })), "step {step}: the save reports the failure");
        crash_points += 1;
        let is_old = old_state.matches(&loaded, &queries);
        loaded_old += usize::from(is_old);
        assert!(is_old || new_state.matches(&loaded, &queries), "crash at step {step} mixed the indexes");
        // `open` (vectors and codes mapped) finds the same index as `load`.
        let opened = Index::open(&dir.0).unwrap();
        let state = if is_old { &old_state } else { &new_state };
        assert!(state.matches(&opened, &queries), "crash at step {step}: open and load disagree");
        opened.verify().unwrap();
        drop(opened);
        // The process lives on: the same in-memory index saves again over the debris.
        new.save(&dir.0).unwrap();
        assert!(new_state.matches(&Index::load(&dir.0).unwrap(), &queries), "step {step}: save after the crash");
    }
    assert!(crash_points >= 10, "a save over an index with a graph has >= 10 crash points, saw {crash_points}");
    // Crashes before the commit point leave the old index, after it the new one: both happen.
    assert!(0 < loaded_old && loaded_old < crash_points, "{loaded_old} of {crash_points} crashes left the old index");
}
