//! Keeping freed multi-megabyte buffers for reuse, for the bf16- and int8-weight modes.
//!
//! With bf16 linear weights each weight is widened to f32 for its product and freed right
//! after: ~6.8 GB of 8-67 MB buffers per forward pass of the 2B model. glibc's allocator
//! serves buffers above its mmap threshold (dynamic, 128 KiB to 32 MiB) with fresh mappings
//! and hands freed heap tops back to the kernel, so every widened weight came back as new
//! pages for the kernel to zero and fault in: 60% of a bf16 text query's time under `perf`
//! (`clear_page_erms` and the fault path). Raising both thresholds lets the next weight reuse
//! the last one's memory: a 32-token query on the 2B went from 3.2 s to 1.2 s
//! (benches/model/README.md). Our CPU kernels no longer widen or dequantize weights, but a
//! product's activation copy and output (tens of MB for a screenshot or a batch) are the same
//! kind of short-lived buffer. f32 weights are never freed during a forward pass, and raising
//! the thresholds there measured within noise, so only the bf16, int8 and q4 modes ask for it,
//! and only once their weights are loaded (`Qwen3VlModel::load`): asked before, the packed
//! weights themselves came from the heap, which then also kept the load's freed transients.
//!
//! This is a process-wide allocator setting, made once, on glibc only; other allocators
//! (macOS, Windows, musl, wasm) are left as they are.

/// Asks glibc's malloc to serve large blocks from its heap and keep freed memory mapped.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_buffers_mapped() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: mallopt only changes allocator tuning parameters; it is thread-safe and
        // valid to call at any time.
        unsafe {
            // Larger than any one weight of the 8B model in f32 (the 4096 x 12288 MLP
            // projections, 192 MiB). glibc refuses values it considers too high; 32 MiB,
            // its own dynamic ceiling, is then the next best.
            if libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20) == 0 {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            }
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        }
    });
}

/// Does nothing: only glibc's allocator is tuned.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_buffers_mapped() {}
