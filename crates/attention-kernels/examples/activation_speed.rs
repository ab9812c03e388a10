//! Times the MLP activations ([`attention_kernels::silu_times`], [`attention_kernels::gelu_tanh_after_bias`])
//! on the 2B model's shapes with every kernel this CPU has, best of 5, against the same
//! arithmetic with libm's `exp` (what burn's elementwise ops call). A measurement for tuning;
//! `cargo run --release -p attention-kernels --example activation_speed`.

use std::time::Instant;

use attention_kernels::{VectorKernel, gelu_tanh_after_bias, silu_times};

/// Best of 5 wall-clock milliseconds of `f` (after one warm-up run).
fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), attention_kernels::Error> {
    // The decoder's SwiGLU at 282 tokens (text + 512x512) and the vision MLP's GELU at 1,024
    // patches (512x512).
    let (rows, width) = (282, 6144);
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed) % 997) as f32 / 200.0 - 2.5).collect()
    };
    let (gate, up) = (values(rows * width, 1), values(rows * width, 2));
    let (x, bias) = (values(1024 * 4096, 3), values(4096, 4));
    println!("| kernel | SwiGLU {rows} x {width} | GELU 1024 x 4096 |");
    println!("|---|---|---|");
    let libm_silu = best_ms(|| {
        let out: Vec<f32> = gate.iter().zip(&up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
        std::hint::black_box(out);
    });
    let libm_gelu = best_ms(|| {
        let out: Vec<f32> = x
            .chunks_exact(4096)
            .flat_map(|row| row.iter().zip(&bias))
            .map(|(v, b)| {
                let t = v + b;
                t / (1.0 + (-(t * t * 0.071_354_82 + 1.595_769_2) * t).exp())
            })
            .collect();
        std::hint::black_box(out);
    });
    println!("| libm `exp`, one thread | {libm_silu:.2} ms | {libm_gelu:.2} ms |");
    for kernel in VectorKernel::ALL.into_iter().filter(|k| k.is_supported()) {
        let silu = best_ms(|| {
            let mut g = gate.clone();
            silu_times(kernel, &mut g, &up).unwrap();
            std::hint::black_box(g);
        });
        let gelu = best_ms(|| {
            let mut v = x.clone();
            gelu_tanh_after_bias(kernel, &mut v, &bias).unwrap();
            std::hint::black_box(v);
        });
        println!("| {} | {silu:.2} ms | {gelu:.2} ms |", kernel.name());
    }
    Ok(())
}
