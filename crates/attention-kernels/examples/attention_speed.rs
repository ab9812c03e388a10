//! Times [`attention_kernels::attention`] on the 2B model's attention shapes, best of a few
//! runs, with GFLOP/s (both products counted, causal ones at half). A measurement for tuning;
//! `cargo run --release -p attention-kernels --example attention_speed`.

use std::time::Instant;

use attention_kernels::{AttentionShape, attention};

fn main() -> Result<(), attention_kernels::Error> {
    // (name, batch, seq, heads, kv_heads, head_dim, causal), as in qwen3-vl-model's
    // `cpu_attention_speed`, which also times burn's attention on them.
    let cases = [
        ("decoder text32", 1, 32, 16, 8, 128, true),
        ("decoder img512", 1, 300, 16, 8, 128, true),
        ("decoder batch16", 16, 300, 16, 8, 128, true),
        ("vision img512", 1, 1024, 16, 16, 64, false),
        ("vision img1280", 1, 4000, 16, 16, 64, false),
    ];
    println!("| case | batch x seq | heads/kv x dim | best of 5 | GFLOP/s |");
    println!("|---|---|---|---|---|");
    for (name, batch, seq, heads, kv_heads, head_dim, causal) in cases {
        let shape = AttentionShape { batch, seq, past: 0, heads, kv_heads, head_dim, scale: 0.125, causal };
        let data = |h: usize, seed: usize| -> Vec<f32> {
            (0..batch * seq * h * head_dim).map(|i| ((i * 7919 + seed) % 997) as f32 / 997.0 - 0.5).collect()
        };
        let (q, k, v) = (data(heads, 1), data(kv_heads, 2), data(kv_heads, 3));
        let mut out = vec![0.0f32; q.len()];
        attention(&q, &k, &v, &mut out, &shape)?;
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            attention(&q, &k, &v, &mut out, &shape)?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        let flops = 4.0 * (batch * heads * seq * seq * head_dim) as f64 * if causal { 0.5 } else { 1.0 };
        println!(
            "| {name} | {batch} x {seq} | {heads}/{kv_heads} x {head_dim} | {:.1} ms | {:.0} |",
            best * 1e3,
            flops / best / 1e9
        );
    }
    Ok(())
}
