//! HNSW search speed on a saved index, so search changes can be timed without rebuilding the
//! graph: `cargo run --release --example hnsw_speed -- DATA_DIR INDEX_DIR [EF,EF,...]`.
//! DATA_DIR holds `base.npy` and `queries.npy` as `benches/index` writes them; INDEX_DIR is
//! built (HNSW; `keep_pruned` off for a quick build unless `KEEP_PRUNED=1`) and saved on the first run, loaded after.
use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;
use vector_index::{Index, IndexConfig, Strategy, npy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, dir) = (std::path::Path::new(&args[1]), std::path::Path::new(&args[2]));
    let efs: Vec<usize> =
        args.get(3).map_or("32,48,64,96".into(), |s| s.clone()).split(',').map(|e| e.parse().unwrap()).collect();
    let base = npy::read_f32_matrix(&std::fs::read(data.join("base.npy")).unwrap()).unwrap();
    let queries = npy::read_f32_matrix(&std::fs::read(data.join("queries.npy")).unwrap()).unwrap();
    let dim = base.cols;
    let mut index = if dir.join("index.json").exists() {
        let t = Instant::now();
        let index = Index::load(dir).unwrap();
        eprintln!("load {:.2}s (checksums, graph checks, int8 copy)", t.elapsed().as_secs_f64());
        index
    } else {
        let mut config = IndexConfig::new("synthetic", dim);
        config.strategy = Strategy::Hnsw;
        config.hnsw.keep_pruned = std::env::var("KEEP_PRUNED").is_ok_and(|v| v == "1");
        let mut index = Index::new(config).unwrap();
        let t = Instant::now();
        index.add_batch(base.data.chunks_exact(dim).enumerate().map(|(i, v)| (i.to_string(), v, Value::Null))).unwrap();
        eprintln!("build {:.1}s", t.elapsed().as_secs_f64());
        index.save(dir).unwrap();
        index
    };
    let qs: Vec<&[f32]> = queries.data.chunks_exact(dim).collect();
    let truth: Vec<HashSet<String>> = index
        .search_batch_with(&qs, 10, Strategy::Exact, None)
        .unwrap()
        .into_iter()
        .map(|h| h.into_iter().map(|h| h.0).collect())
        .collect();
    for ef in efs {
        index.set_ef_search(ef).unwrap();
        let mut best = f64::INFINITY;
        let mut hits = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let got: Vec<_> = qs.iter().map(|q| index.search(q, 10).unwrap()).collect();
            best = best.min(t.elapsed().as_secs_f64());
            hits = got.iter().zip(&truth).map(|(g, t)| g.iter().filter(|h| t.contains(&h.0)).count()).sum::<usize>();
        }
        println!("ef {ef}: {:.0} QPS, recall@10 {:.4}", qs.len() as f64 / best, hits as f64 / (10 * qs.len()) as f64);
    }
}
