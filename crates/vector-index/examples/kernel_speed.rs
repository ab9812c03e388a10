//! Micro-benchmark of the exact-search kernel: `cargo run --release --example kernel_speed`.
use std::time::Instant;

fn best_of(mut f: impl FnMut()) -> f64 {
    (0..7).map(|_| { let t = Instant::now(); f(); t.elapsed().as_secs_f64() }).fold(f64::INFINITY, f64::min)
}

fn main() {
    let (n, d) = (5000usize, 128usize);
    let rows = vector_index::synthetic::gaussian(n, d, 1);
    let q = vector_index::synthetic::gaussian(1, d, 2);
    let mut config = vector_index::IndexConfig::new("m", d);
    config.strategy = vector_index::Strategy::Exact;
    let mut index = vector_index::Index::new(config).unwrap();
    index.add_batch(rows.chunks_exact(d).enumerate().map(|(i, v)| (i.to_string(), v, serde_json::Value::Null))).unwrap();
    let mut sink = 0.0;
    let mut out = vec![0.0; n];
    let t = best_of(|| for _ in 0..100 { for r in rows.chunks_exact(d) { sink += vector_index::dot(r, &q); } });
    println!("dot:      {:.1} us/query", t * 1e4);
    let t = best_of(|| for _ in 0..100 { vector_index::dot_rows(&rows, &q, &mut out); sink += out[0]; });
    println!("dot_rows: {:.1} us/query", t * 1e4);
    let t = best_of(|| for _ in 0..100 { sink += index.search(&q, 10).unwrap()[0].1; });
    println!("search:   {:.1} us/query ({sink})", t * 1e4);
}
