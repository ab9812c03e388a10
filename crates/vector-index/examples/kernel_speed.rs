//! Micro-benchmark of the exact-search kernels: `cargo run --release --example kernel_speed [N DIM QUERIES]`.
//! Prints microseconds per query for one-query scans (`dot` per row, `dot_rows`) and for the
//! batched product (`dot_block` tiled over query blocks and row chunks).
use std::time::Instant;

fn best_of(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let arg = |i: usize, default: usize| std::env::args().nth(i).map_or(default, |v| v.parse().expect("a number"));
    let (n, d, m) = (arg(1, 10_000), arg(2, 512), arg(3, 64));
    let rows = vector_index::synthetic::gaussian(n, d, 1);
    let queries = vector_index::synthetic::gaussian(m, d, 2);
    let q = &queries[..d];
    let mut sink = 0.0;
    let mut out = vec![0.0; n];
    let t = best_of(|| {
        for r in rows.chunks_exact(d) {
            sink += vector_index::dot(r, q);
        }
    });
    println!("dot per row:  {:.1} us/query", t * 1e6);
    let t = best_of(|| {
        vector_index::dot_rows(&rows, q, &mut out);
        sink += out[0];
    });
    println!("dot_rows:     {:.1} us/query", t * 1e6);
    for (qb, rc) in [(m, 256), (64, 256), (32, 128), (64, 64)] {
        let mut scores = vec![0.0; qb * rc];
        let t = best_of(|| {
            for qblock in queries.chunks(qb * d) {
                for chunk in rows.chunks(rc * d) {
                    let s = &mut scores[..qblock.len() / d * chunk.len() / d];
                    vector_index::dot_block(qblock, chunk, d, s);
                    sink += s[0];
                }
            }
        });
        println!("dot_block qb={qb} rc={rc}: {:.1} us/query", t * 1e6 / m as f64);
    }
    println!("({sink})");
}
