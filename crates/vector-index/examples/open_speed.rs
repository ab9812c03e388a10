//! Time to open a saved index and answer its first query, `Index::open` (mapped) against
//! `Index::load` (read and checked), with the process's RSS after each step:
//! `cargo run --release -p vector-index --example open_speed -- DIR [N] [DIM]` (defaults
//! 100000, 2048). If `DIR` holds no index, one is built first from `synthetic::clustered` data
//! (`keep_pruned = false` so the build takes minutes, not tens of minutes; opening does not
//! depend on the graph's shape) and saved; run it again to time the opening on its own (each
//! run is a fresh process). `COLD=1` drops the directory's files from the page cache first
//! (`posix_fadvise(DONTNEED)` through `python3`), as after a reboot. `OPEN_ONLY=1` stops after
//! the first query (to profile the open alone).
use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use vector_index::{Index, IndexConfig, Strategy, synthetic};

/// Resident memory: the total, and its anonymous part (the process's own heap) and file-backed
/// part (mapped pages of the index files that are in the page cache and mapped in; the kernel
/// maps up to 16 neighbouring cached pages per fault, so this overstates what was read).
fn rss_mb() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        let kb = status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().trim_end_matches(" kB"));
        kb.and_then(|kb| kb.parse::<f64>().ok()).map_or("n/a".into(), |kb| format!("{:.0}", kb / 1024.0))
    };
    format!("{} MB (anon {}, file {})", field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns), to tell the work
/// from the waiting on a loaded machine; `NaN` where there is no such file.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()).map_or(f64::NAN, |ns| ns / 1e6)
}

fn drop_from_page_cache(dir: &Path) {
    let script = "import os, sys\nfor n in os.listdir(sys.argv[1]):\n    fd = os.open(os.path.join(sys.argv[1], n), os.O_RDONLY)\n    os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)";
    let ok = std::process::Command::new("python3").args(["-c", script]).arg(dir).status().is_ok_and(|s| s.success());
    assert!(ok, "could not drop the files from the page cache");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().expect("usage: open_speed DIR [N] [DIM]"));
    let n: usize = args.get(1).map_or(100_000, |a| a.parse().expect("N"));
    let dim: usize = args.get(2).map_or(2048, |a| a.parse().expect("DIM"));
    let queries = synthetic::clustered(100, dim, (n / 1000).max(1), 1.0, 7, 2);
    if !dir.join("index.json").exists() {
        let t = Instant::now();
        let data = synthetic::clustered(n, dim, (n / 1000).max(1), 1.0, 7, 1);
        let mut config = IndexConfig::new("synthetic", dim);
        config.strategy = Strategy::Hnsw;
        config.hnsw.keep_pruned = false;
        let mut index = Index::new(config).unwrap();
        index.add_batch(data.chunks_exact(dim).enumerate().map(|(i, v)| (i.to_string(), v, Value::Null))).unwrap();
        let built = t.elapsed().as_secs_f64();
        let t = Instant::now();
        index.save(dir).unwrap();
        println!(
            "built {n} x {dim} in {built:.1} s, saved in {:.1} s; run again to time opening",
            t.elapsed().as_secs_f64()
        );
        return;
    }
    let cold = std::env::var("COLD").is_ok_and(|v| v == "1");
    if cold {
        drop_from_page_cache(dir);
    }
    println!("{} ({} cache), RSS at start {}", dir.display(), if cold { "cold" } else { "warm" }, rss_mb());
    let (t, cpu) = (Instant::now(), cpu_ms());
    let index = Index::open(dir).unwrap();
    let (opened, opened_cpu) = (t.elapsed().as_secs_f64(), cpu_ms() - cpu);
    let rss_open = rss_mb();
    let (t, cpu) = (Instant::now(), cpu_ms());
    let first = index.search(&queries[..dim], 10).unwrap();
    let (query, query_cpu) = (t.elapsed().as_secs_f64(), cpu_ms() - cpu);
    println!(
        "open: {:.1} ms (cpu {opened_cpu:.1}), RSS {rss_open}; first query {:.1} ms (cpu {query_cpu:.1}), RSS {}; \
         open + first query {:.1} ms (cpu {:.1}) (mapped: {})",
        1e3 * opened,
        1e3 * query,
        rss_mb(),
        1e3 * (opened + query),
        opened_cpu + query_cpu,
        index.is_mapped()
    );
    if std::env::var("OPEN_ONLY").is_ok_and(|v| v == "1") {
        return; // for profiling the open alone
    }
    let t = Instant::now();
    for q in queries.chunks_exact(dim).skip(1) {
        index.search(q, 10).unwrap();
    }
    println!("99 more queries: {:.1} ms, RSS {}", 1e3 * t.elapsed().as_secs_f64(), rss_mb());
    let t = Instant::now();
    index.verify().unwrap();
    println!(
        "verify (sha256 of the mapped files, rows finite, codes match): {:.2} s, RSS {}",
        t.elapsed().as_secs_f64(),
        rss_mb()
    );
    drop(index);
    if cold {
        drop_from_page_cache(dir);
    }
    let t = Instant::now();
    let loaded = Index::load(dir).unwrap();
    let load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = loaded.search(&queries[..dim], 10).unwrap();
    println!(
        "load (everything read and checked): {:.2} s, first query {:.1} ms, RSS {}",
        load,
        1e3 * t.elapsed().as_secs_f64(),
        rss_mb()
    );
    assert_eq!(again, first, "open and load answer alike");
    let t = Instant::now();
    for q in queries.chunks_exact(dim).skip(1) {
        loaded.search(q, 10).unwrap();
    }
    println!("the same 99 queries on the loaded index: {:.1} ms", 1e3 * t.elapsed().as_secs_f64());
}
