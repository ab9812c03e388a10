//! The `.npy` reader on arbitrary input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = vector_index::npy::read_f32_matrix(data);
});
