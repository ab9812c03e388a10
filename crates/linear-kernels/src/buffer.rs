//! Buffers for packed weights, backed by transparent huge pages where Linux offers them.
//!
//! Why: loading the 2B model packs ~4 GB into fresh memory. With 4 KiB pages that is a
//! million page faults, each zeroing its page: `perf` on a bf16 load put 55% of the samples
//! in the fault path and the kernel's page zeroing (benches/model/README.md). Advising 2 MiB
//! pages before the first write cuts the faults 512-fold. Where THP is off (`never`), or off
//! Linux, the advice does nothing and the buffer is an ordinary `Vec`.

/// A `len`-long buffer of `value`, advised for huge pages before anything writes to it.
/// A zero `value` comes from the allocator's zeroed memory (fresh pages are not touched
/// here, so the packing that fills them in parallel faults them in, in huge pages).
pub(crate) fn packed_buffer<T: Copy + PartialEq + Default>(len: usize, value: T) -> Vec<T> {
    if value == T::default() {
        let v = vec![value; len];
        advise_huge_pages(v.as_ptr().cast(), len * size_of::<T>());
        v
    } else {
        let mut v: Vec<T> = Vec::with_capacity(len);
        advise_huge_pages(v.as_ptr().cast(), len * size_of::<T>());
        v.resize(len, value);
        v
    }
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *const u8, bytes: usize) {
    const HUGE_PAGE: usize = 2 << 20;
    // Only whole huge pages inside the buffer: the advice must not reach memory the
    // allocator handed to someone else (it would be harmless, but it is not ours).
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: madvise with MADV_HUGEPAGE only changes how the kernel backs this range,
        // which lies inside one live allocation of ours; it never changes its contents. A
        // failure (THP compiled out) leaves the range as it was, which is fine.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *const u8, _bytes: usize) {}

#[cfg(test)]
mod tests {
    use super::packed_buffer;

    #[test]
    fn buffers_hold_their_value_whatever_the_size() {
        for len in [0, 1, 1000, 3 << 20] {
            assert!(packed_buffer(len, 0u16).iter().all(|&v| v == 0));
            let codes = packed_buffer(len, 0x88u8);
            assert_eq!(codes.len(), len);
            assert!(codes.iter().all(|&v| v == 0x88));
        }
    }
}
