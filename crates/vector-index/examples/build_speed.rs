//! HNSW build time, single-insert time and recall@10, on clustered synthetic data, through the
//! public API only (so the same file measures any version of the crate):
//! `cargo run --release --example build_speed -- [N] [DIM] [EF]` (defaults 20000, 512, 64).
//! Builds with `add_batch` (one call: the bulk path), then times 1,000 more single `add`s,
//! then reports recall@10 against exact search over 500 held-out queries. With `DATA_DIR` set,
//! also writes the vectors there (`base.npy`: the N bulk rows then the 1,000 single ones;
//! `queries.npy`) for `benches/index/hnswlib_build.py`. `KEEP_PRUNED=0|1` overrides that parameter.
//! Last, `search_filtered` with predicates matching 1/2, 1/10 and 1/100 of the ids: QPS and
//! recall@10 of the filtered walk against the exact filtered scan.
use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;
use vector_index::{Index, IndexConfig, Strategy, npy, synthetic};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let (n, dim, ef) = (
        args.first().copied().unwrap_or(20_000),
        args.get(1).copied().unwrap_or(512),
        args.get(2).copied().unwrap_or(64),
    );
    let singles = 1000;
    let clusters = (n / 1000).max(1);
    let base = synthetic::clustered(n + singles, dim, clusters, 1.0, 7, 1);
    let queries = synthetic::clustered(500, dim, clusters, 1.0, 7, 2);
    if let Ok(dir) = std::env::var("DATA_DIR") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("base.npy"), npy::write_f32_matrix(n + singles, dim, &base)).unwrap();
        std::fs::write(dir.join("queries.npy"), npy::write_f32_matrix(500, dim, &queries)).unwrap();
    }
    let mut config = IndexConfig::new("synthetic", dim);
    config.strategy = Strategy::Hnsw;
    config.hnsw.ef_search = ef;
    if let Ok(v) = std::env::var("KEEP_PRUNED") {
        config.hnsw.keep_pruned = v == "1";
    }
    let mut index = Index::new(config).unwrap();
    let t = Instant::now();
    index
        .add_batch(base[..n * dim].chunks_exact(dim).enumerate().map(|(i, v)| (i.to_string(), v, Value::Null)))
        .unwrap();
    let build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for (i, v) in base[n * dim..].chunks_exact(dim).enumerate() {
        index.add((n + i).to_string(), v, Value::Null).unwrap();
    }
    let inserts = t.elapsed().as_secs_f64();
    let qs: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    let truth = index.search_batch_with(&qs, 10, Strategy::Exact, None).unwrap();
    let t = Instant::now();
    let got: Vec<_> = qs.iter().map(|q| index.search(q, 10).unwrap()).collect();
    let search = t.elapsed().as_secs_f64();
    let hits: usize = got
        .iter()
        .zip(&truth)
        .map(|(g, t)| {
            let t: HashSet<&str> = t.iter().map(|h| h.0.as_str()).collect();
            g.iter().filter(|h| t.contains(h.0.as_str())).count()
        })
        .sum();
    println!(
        "n={n} dim={dim} ef_search={ef}: build {build:.2}s, {singles} single adds {inserts:.2}s ({:.2} ms each), \
         recall@10 {:.4}, {:.0} QPS (1 thread)",
        1000.0 * inserts / singles as f64,
        hits as f64 / (10 * qs.len()) as f64,
        qs.len() as f64 / search
    );
    for every in [2usize, 10, 100] {
        let keep = move |id: &str, _: &Value| id.parse::<usize>().is_ok_and(|i| i % every == 0);
        let t = Instant::now();
        let exact: Vec<_> =
            qs.iter().map(|q| index.search_with(q, 10, Strategy::Exact, Some(&keep)).unwrap()).collect();
        let exact_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let got: Vec<_> = qs.iter().map(|q| index.search_filtered(q, 10, keep).unwrap()).collect();
        let walk_s = t.elapsed().as_secs_f64();
        let hits: usize = got
            .iter()
            .zip(&exact)
            .map(|(g, t)| {
                let t: HashSet<&str> = t.iter().map(|h| h.0.as_str()).collect();
                g.iter().filter(|h| t.contains(h.0.as_str())).count()
            })
            .sum();
        println!(
            "  filter 1/{every}: search_filtered {:.0} QPS, recall@10 {:.4}; exact filtered scan {:.0} QPS",
            qs.len() as f64 / walk_s,
            hits as f64 / (10 * qs.len()) as f64,
            qs.len() as f64 / exact_s
        );
    }
}
