//! `EmbeddingCache::parse` on arbitrary bytes: bad lines are dropped, never a panic, and what
//! it keeps writes back and parses to the same entries.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let cache = demo_retriever::EmbeddingCache::parse(data);
    let again = demo_retriever::EmbeddingCache::parse(&cache.to_jsonl());
    assert_eq!(again.len(), cache.len());
});
