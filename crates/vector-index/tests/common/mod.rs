//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use vector_index::{Index, IndexConfig, Strategy};

/// A fresh, empty directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("vector-index-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn config(dim: usize, strategy: Strategy) -> IndexConfig {
    let mut config = IndexConfig::new("test-model", dim);
    config.strategy = strategy;
    config
}

/// An index of `n` clustered items `item-<i>` with `{"i": i, "even": i % 2 == 0}` metadata.
pub fn clustered_index(n: usize, dim: usize, strategy: Strategy, seed: u64) -> Index {
    let data = vector_index::synthetic::clustered(n, dim, (n / 50).max(2), 1.0, seed, seed + 1);
    let mut index = Index::new(config(dim, strategy)).unwrap();
    index
        .add_batch(
            data.chunks_exact(dim)
                .enumerate()
                .map(|(i, v)| (format!("item-{i}"), v, json!({"i": i, "even": i % 2 == 0}))),
        )
        .unwrap();
    index
}

/// Everything observable about an index: config, model, items (id, vector bits, metadata).
pub type Observed = (String, usize, Vec<(String, Vec<u32>, String)>);

/// `index` re-inserted with `auto_rebuild` off (so tombstones stay), its graph built, then every
/// `every`-th of its `n` items (`item-0`, `item-{every}`, ...) removed: a stored form with dead
/// rows inside the graph.
pub fn with_tombstones(index: Index, n: usize, every: usize) -> Index {
    let mut config = index.config().clone();
    config.auto_rebuild = false;
    let items: Vec<_> = index.iter().map(|i| (i.id.to_string(), i.vector.to_vec(), i.metadata.clone())).collect();
    let mut index = Index::new(config).unwrap();
    index.add_batch(items).unwrap();
    index.rebuild();
    for i in (0..n).step_by(every) {
        index.remove(&format!("item-{i}")).unwrap();
    }
    index
}

pub fn snapshot(index: &Index) -> Observed {
    let mut items: Vec<_> = index
        .iter()
        .map(|item| (item.id.to_string(), item.vector.iter().map(|x| x.to_bits()).collect(), item.metadata.to_string()))
        .collect();
    items.sort();
    (index.embedding_model().to_string(), index.embedding_dim(), items)
}

/// `n` items `<tag>-<i>` of dimension 4 with metadata `tag`, added one at a time.
pub fn small_index(n: usize, tag: &str, strategy: Strategy) -> Index {
    let mut index = Index::new(config(4, strategy)).unwrap();
    for i in 0..n {
        index.add(format!("{tag}-{i}"), &[1.0, i as f32, 0.5, -(i as f32)], json!(tag)).unwrap();
    }
    index
}
