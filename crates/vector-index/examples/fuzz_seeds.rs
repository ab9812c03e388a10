//! Writes a few valid `to_bytes` buffers into a directory, as a seed corpus for the fuzzer.
use serde_json::json;
use vector_index::{Index, IndexConfig, Strategy};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus/from_bytes".into());
    std::fs::create_dir_all(&dir).unwrap();
    for (name, strategy, n) in
        [("exact", Strategy::Exact, 5), ("hnsw", Strategy::Hnsw, 40), ("empty", Strategy::Auto, 0)]
    {
        let mut config = IndexConfig::new("seed", 4);
        config.strategy = strategy;
        config.auto_rebuild = false;
        let mut index = Index::new(config).unwrap();
        let data = vector_index::synthetic::clustered(n, 4, 3, 1.0, 1, 2);
        index.add_batch(data.chunks_exact(4).enumerate().map(|(i, v)| (format!("{i}"), v, json!({"i": i})))).unwrap();
        index.rebuild();
        if n > 3 {
            index.remove("1").unwrap();
            index.add("late", &[1.0, 2.0, 3.0, 4.0], json!(null)).unwrap();
        }
        std::fs::write(format!("{dir}/{name}"), index.to_bytes()).unwrap();
    }
}
