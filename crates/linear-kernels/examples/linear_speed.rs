//! GFLOP/s of every kernel this CPU has (bf16, int8, q4), at the model's linear shapes (Qwen3-VL 2B decoder:
//! hidden 2048, MLP 6144; M = 1 token, 32 tokens, 280 tokens of a screenshot query).
//!
//! ```text
//! cargo run --release -p linear-kernels --example linear_speed [-- REPS [M ...]]
//! ```
//! Each cell is the best of REPS (default 3) timed runs after one warm-up run, 2·M·K·N flops
//! per run (int8 counts its multiply-adds the same way). Scalar kernels run only for M <= 32:
//! at M = 280 they take seconds per run and are a fallback, not a contender. Threads: rayon's
//! default (one per core; `RAYON_NUM_THREADS` overrides). `QWEN3_VL_CPU_KERNELS=<level>`
//! measures only that level's kernels.
//!
//! Two rates per cell: wall-clock GFLOP/s, and GFLOP per CPU-second of all threads (Linux
//! only), which a busy machine lowers much less: on an idle machine the wall-clock rate
//! approaches it times the thread count.

use std::time::Instant;

use linear_kernels::{
    Bf16Kernel, Level, PackedBf16, PackedQ4, PackedQ8, Q8Kernel, matmul_bf16_with, matmul_q4_with, matmul_q8_with,
};

/// Deterministic values in [-1, 1) (no `rand` dependency).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// CPU time of every thread of this process so far, in ns (Linux `/proc`; `None` elsewhere).
/// Unlike wall time it does not count the time other processes held the cores.
fn cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// (best wall-clock GFLOP/s, best GFLOP per CPU-second) of `reps` runs after one warm-up.
fn best_gflops(flops: f64, reps: usize, mut run: impl FnMut()) -> (f64, Option<f64>) {
    run();
    let (mut wall, mut cpu) = (f64::INFINITY, None::<f64>);
    for _ in 0..reps {
        let (start, cpu_start) = (Instant::now(), cpu_ns());
        run();
        wall = wall.min(start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_start, cpu_ns()) {
            let secs = (b - a) as f64 * 1e-9;
            cpu = Some(cpu.map_or(secs, |c| c.min(secs)));
        }
    }
    (flops / wall / 1e9, cpu.map(|c| flops / c / 1e9))
}

/// A table cell for the per-CPU-second rate.
fn per_cpu(g: Option<f64>) -> String {
    g.map_or("n/a".into(), |g| format!("{g:.1}"))
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("REPS and M are numbers")).collect();
    let reps = args.first().copied().unwrap_or(3);
    let ms = if args.len() > 1 { args[1..].to_vec() } else { vec![1, 32, 280] };
    // A forced level (QWEN3_VL_CPU_KERNELS) measures only that level's kernels.
    let forced = Level::from_env().expect("a valid QWEN3_VL_CPU_KERNELS");
    let bf16: Vec<_> = Bf16Kernel::ALL
        .into_iter()
        .filter(|&k| k.is_supported() && forced.is_none_or(|l| k == Bf16Kernel::at_level(l)))
        .collect();
    let q8: Vec<_> = Q8Kernel::ALL
        .into_iter()
        .filter(|&k| k.is_supported() && forced.is_none_or(|l| k == Q8Kernel::at_level(l)))
        .collect();
    for k in Bf16Kernel::ALL.iter().filter(|k| !k.is_supported()) {
        println!("SKIPPED: bf16 {} not on this CPU", k.name());
    }
    for k in Q8Kernel::ALL.iter().filter(|k| !k.is_supported()) {
        println!("SKIPPED: int8 {} not on this CPU", k.name());
    }
    println!("threads: {}, best of {reps}\n", rayon::current_num_threads());
    println!("| M | K x N | weight | kernel | GFLOP/s (wall) | GFLOP per CPU-s |");
    println!("|---|---|---|---|---|---|");
    for (k, n) in [(2048, 6144), (2048, 2048), (6144, 2048)] {
        let w = values(k * n, (k * n) as u64);
        let packed_bf16 = PackedBf16::from_kn_f32(&w, k, n).expect("shape");
        let packed_q8 = PackedQ8::from_kn(&w, k, n).expect("shape");
        let packed_q4 = PackedQ4::from_kn(&w, k, n).expect("shape");
        for &m in &ms {
            let x = values(m * k, m as u64);
            let mut y = vec![0.0f32; m * n];
            let flops = 2.0 * (m * k * n) as f64;
            for &kernel in bf16.iter().filter(|&&kk| m <= 32 || kk != Bf16Kernel::Scalar) {
                let g = best_gflops(flops, reps, || {
                    matmul_bf16_with(kernel, &x, m, &packed_bf16, &mut y).expect("supported")
                });
                println!("| {m} | {k}x{n} | bf16 | {} | {:.1} | {} |", kernel.name(), g.0, per_cpu(g.1));
            }
            for &kernel in q8.iter().filter(|&&kk| m <= 32 || kk != Q8Kernel::Scalar) {
                let g =
                    best_gflops(flops, reps, || matmul_q8_with(kernel, &x, m, &packed_q8, &mut y).expect("supported"));
                println!("| {m} | {k}x{n} | int8 | {} | {:.1} | {} |", kernel.name(), g.0, per_cpu(g.1));
                // q4 runs on the same integer kernel family (one level switch for both).
                let g =
                    best_gflops(flops, reps, || matmul_q4_with(kernel, &x, m, &packed_q4, &mut y).expect("supported"));
                println!("| {m} | {k}x{n} | q4 | {} | {:.1} | {} |", kernel.name(), g.0, per_cpu(g.1));
            }
        }
    }
}
