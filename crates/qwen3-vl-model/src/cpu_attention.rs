//! The CPU device's attention: the one place the model knows about the CPU attention kernel
//! (crate `attention-kernels`). Every other device, and any compute dtype but f32, keep burn's
//! `attention` (the generic path the wgpu and WebGPU tests run).
//!
//! Why: burn's CPU attention computes `exp` one element at a time (a libm call) inside 64-key
//! tiles; with the linear layers on our kernels, attention was ~45% of a 2B screenshot
//! embedding (`perf`, benches/model/README.md). The kernel here tiles queries, keeps a tile's
//! scores in L2, runs both products on gemm and a vectorised softmax; it reads the projections
//! in their `[batch, seq, heads, head_dim]` layout, so no head-major copy or repeated
//! key/value heads are made.

use attention_kernels::{AttentionShape, VectorKernel};
use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::error::{ModelError, Result};

/// Whether attention over `q` runs on the CPU kernel: f32 on the CPU device (flex), natively
/// and on wasm32 (where its portable softmax is vectorised by the SIMD128 build).
pub(crate) fn applies(q: &Tensor<4>) -> bool {
    q.dtype() == DType::F32 && q.device() == Device::flex()
}

/// The softmax kernel this machine runs (after `QWEN3_VL_CPU_KERNELS`); the model calls it at
/// load, so a bad value of the variable is a typed error there rather than a panic later.
pub fn cpu_attention_kernel() -> Result<&'static str> {
    VectorKernel::select().map(VectorKernel::name).map_err(|e| ModelError::Config(format!("CPU attention: {e}")))
}

/// Scaled dot-product attention on the host.
///
/// # Shapes
/// `q: [batch, seq, heads, head_dim]`, `k`/`v`: `[batch, past + seq, kv_heads, head_dim]` (a
/// reused prefix's `past` positions first) -> `[batch * seq, heads * head_dim]` (the output
/// projection's input), on `q`'s device.
pub(crate) fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, scale: f64, causal: bool) -> Tensor<2> {
    let device = q.device();
    let [batch, seq, heads, head_dim] = q.dims();
    let [_, kv_seq, kv_heads, _] = k.dims();
    let past = kv_seq - seq;
    let host = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().expect("attention inputs are f32 (`applies`)");
    let (q, k, v) = (host(q), host(k), host(v));
    let mut out = vec![0f32; q.len()];
    let shape = AttentionShape { batch, seq, past, heads, kv_heads, head_dim, scale: scale as f32, causal };
    // Shapes come from the model's own projections, and the kernel level was checked at load
    // (`cpu_attention_kernel`), so this cannot fail.
    attention_kernels::attention(&q, &k, &v, &mut out, &shape).expect("attention shapes and kernel checked");
    Tensor::from_data(TensorData::new(out, [batch * seq, heads * head_dim]), (&device, DType::F32))
}

#[cfg(test)]
mod speed {
    use std::time::Instant;

    use burn::tensor::module::attention as burn_attention;
    use burn::tensor::ops::AttentionModuleOptions;
    use burn::tensor::{DType, Device, Tensor, TensorData};

    /// Best of `reps` wall-clock milliseconds of `f` (after one warm-up run).
    fn best_ms(reps: usize, mut f: impl FnMut()) -> f64 {
        f();
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// The 2B's attention shapes on the CPU device: burn's `attention` (as the model called it
    /// before, with head-major inputs and repeated kv heads) against ours. A measurement, not
    /// a check; numbers are recorded in `benches/model/README.md`. Run it with
    /// `cargo test --workspace --lib cpu_attention_speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement: run by hand"]
    fn cpu_attention_speed() {
        let device = Device::flex();
        println!("softmax kernel: {}", super::cpu_attention_kernel().unwrap());
        println!("| case | batch x seq | heads/kv x dim | burn | ours |");
        println!("|---|---|---|---|---|");
        // (name, batch, seq, heads, kv_heads, head_dim, causal): the decoder on a 32-token
        // query, on text + 512x512 (256 image tokens) and on a batch of 16 demos; the vision
        // tower on 512x512 (1,024 patches) and 1280x800 (4,000 patches).
        let cases = [
            ("decoder text32", 1, 32, 16, 8, 128, true),
            ("decoder img512", 1, 300, 16, 8, 128, true),
            ("decoder batch16", 16, 300, 16, 8, 128, true),
            ("vision img512", 1, 1024, 16, 16, 64, false),
            ("vision img1280", 1, 4000, 16, 16, 64, false),
        ];
        for (name, b, s, h, kvh, hd, causal) in cases {
            let data = |heads: usize, seed: usize| {
                let v: Vec<f32> =
                    (0..b * s * heads * hd).map(|i| ((i * 7919 + seed) % 997) as f32 / 997.0 - 0.5).collect();
                Tensor::<4>::from_data(TensorData::new(v, [b, s, heads, hd]), (&device, DType::F32))
            };
            let (q, k, v) = (data(h, 1), data(kvh, 2), data(kvh, 3));
            let scale = 1.0 / (hd as f64).sqrt();
            let reps = if s * b > 2000 { 3 } else { 10 };
            let burn_ms = best_ms(reps, || {
                let group = h / kvh;
                let rep = |t: Tensor<4>| {
                    let t = t.swap_dims(1, 2);
                    if group == 1 {
                        return t;
                    }
                    t.unsqueeze_dim::<5>(2).expand([b, kvh, group, s, hd]).reshape([b, h, s, hd])
                };
                let out = burn_attention(
                    q.clone().swap_dims(1, 2),
                    rep(k.clone()),
                    rep(v.clone()),
                    None,
                    None,
                    AttentionModuleOptions { scale: Some(scale), softcap: None, is_causal: causal },
                );
                drop(out.swap_dims(1, 2).reshape([b * s, h * hd]).into_data());
            });
            let ours_ms =
                best_ms(reps, || drop(super::attention(q.clone(), k.clone(), v.clone(), scale, causal).into_data()));
            println!("| {name} | {b} x {s} | {h}/{kvh} x {hd} | {burn_ms:.1} ms | {ours_ms:.1} ms |");
        }
    }
}
