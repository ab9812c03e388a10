//! `Index::from_bytes` on arbitrary input: an error or an index, never a panic or an
//! allocation beyond the input's size. It runs the same checks as a directory load
//! (index.json, embeddings.npy, ids, hnsw.bin), so this covers every loader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(index) = vector_index::Index::from_bytes(data) {
        // A loaded index must be usable.
        let query = vec![1.0; index.embedding_dim()];
        let _ = index.search(&query, 3);
        let _ = index.to_bytes();
    }
});
