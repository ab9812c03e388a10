//! The embedding cache: vectors keyed by everything that determines them, so re-indexing an
//! unchanged library embeds nothing.
//!
//! On disk it is `embedding_cache.jsonl` in each generation's directory (part of the save's
//! one commit, see [`crate::store`]), one `{"key": "<sha256 hex>", "vector": [...]}` per line,
//! sorted by key. Keys name their inputs, not index rows, so a corrupt line only costs a
//! re-embedding: [`EmbeddingCache::read_file`] drops lines that are not
//! valid JSON (or not UTF-8), and vectors that are empty, not finite or all zeros;
//! [`EmbeddingCache::lookup_dim`] drops a vector of the wrong width. Each drop is recorded as
//! a [`DroppedEntry`] for the caller to report, and the next save writes the file without it.

use std::collections::HashMap;
use std::path::Path;

use qwen3_vl_embedder::matryoshka::embedding_problem;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, RetrieverError};

pub use crate::layout::CACHE_FILE;

/// How the cache was used since it was created or its counters were reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: usize,
    /// Lookups that found nothing (each one is an embedding computed).
    pub misses: usize,
}

/// Embeddings by [`cache_key`], so an unchanged demo or query is never embedded twice.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    entries: HashMap<String, Vec<f32>>,
    stats: CacheStats,
    dropped: Vec<DroppedEntry>,
}

/// A cache entry that was unusable and dropped (its vector is recomputed when needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedEntry {
    /// Where it was: `line N` of the file, or `key <first 12 hex digits>`.
    pub at: String,
    /// Why it was dropped.
    pub reason: String,
}

impl std::fmt::Display for DroppedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{CACHE_FILE} {}: {}; dropped, the embedding will be recomputed", self.at, self.reason)
    }
}

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    vector: Vec<f32>,
}

/// The cache key of one embedding: sha256 over model, dimension, instruction, text and the
/// sha256 of each image's bytes, each field length-prefixed so no two inputs share a key.
pub fn cache_key(model: &str, dim: usize, instruction: &str, text: Option<&str>, images: &[Vec<u8>]) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(model.as_bytes());
    field(&(dim as u64).to_le_bytes());
    field(instruction.as_bytes());
    field(text.map_or(&[0xff][..], str::as_bytes));
    for image in images {
        field(&Sha256::digest(image));
    }
    hex(&h.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl EmbeddingCache {
    /// The number of cached vectors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds no vector.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Hits and misses since creation or the last [`reset_stats`](Self::reset_stats).
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Sets the hit and miss counters back to zero.
    pub fn reset_stats(&mut self) {
        self.stats = CacheStats::default();
    }

    /// The cached vector for `key`, counting a hit or a miss.
    pub fn lookup(&mut self, key: &str) -> Option<&[f32]> {
        match self.entries.get(key) {
            Some(v) => {
                self.stats.hits += 1;
                Some(v)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// The cached vector for `key` if it has `dim` components, counting a hit or a miss; a
    /// vector of another width is dropped (and recorded, see [`Self::take_dropped`]).
    pub fn lookup_dim(&mut self, key: &str, dim: usize) -> Option<&[f32]> {
        if let Some(v) = self.entries.get(key)
            && v.len() != dim
        {
            let reason = format!("the vector has {} components, expected {dim}", v.len());
            self.dropped.push(DroppedEntry { at: format!("key {}", &key[..key.len().min(12)]), reason });
            self.entries.remove(key);
        }
        self.lookup(key)
    }

    /// The entries dropped since the cache was loaded or this was last called.
    pub fn take_dropped(&mut self) -> Vec<DroppedEntry> {
        std::mem::take(&mut self.dropped)
    }

    /// Stores `vector` under `key`, replacing any vector already there.
    pub fn insert(&mut self, key: String, vector: Vec<f32>) {
        self.entries.insert(key, vector);
    }

    /// Reads a cache file ([`CACHE_FILE`]); a missing file is an empty cache. Unusable lines
    /// (see the module docs) are dropped and recorded, never an error: they are only
    /// recomputed.
    pub fn read_file(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(RetrieverError::io(path)(e)),
        };
        Ok(Self::parse(&bytes))
    }

    /// A cache from a cache file's bytes ([`EmbeddingCache::read_file`] without the file):
    /// never fails; unusable lines are dropped and recorded.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut cache = Self::default();
        // Bytes, not a string: one byte that is not UTF-8 must cost its line, not the file.
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let at = format!("line {}", i + 1);
            match serde_json::from_slice::<Line>(line) {
                Ok(l) => match embedding_problem(&l.vector) {
                    None => {
                        cache.entries.insert(l.key, l.vector);
                    }
                    Some(p) => cache.dropped.push(DroppedEntry { at, reason: format!("the vector is {p}") }),
                },
                Err(e) => cache.dropped.push(DroppedEntry { at, reason: format!("not a cache entry ({e})") }),
            }
        }
        cache
    }

    /// The cache file's bytes: one line per entry, sorted by key (so equal caches give equal
    /// files).
    pub fn to_jsonl(&self) -> Vec<u8> {
        let mut keys: Vec<&String> = self.entries.keys().collect();
        keys.sort();
        let mut out = String::new();
        for key in keys {
            let line = Line { key: key.clone(), vector: self.entries[key].clone() };
            // A line is a string and finite floats (checked on the way in), which always
            // serialise; were one not to, it is left out and only costs a re-embedding.
            if let Ok(text) = serde_json::to_string(&line) {
                out.push_str(&text);
                out.push('\n');
            }
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_every_field() {
        let base = cache_key("m", 64, "i", Some("t"), &[vec![1, 2]]);
        assert_eq!(base, cache_key("m", 64, "i", Some("t"), &[vec![1, 2]]));
        for other in [
            cache_key("m2", 64, "i", Some("t"), &[vec![1, 2]]),
            cache_key("m", 32, "i", Some("t"), &[vec![1, 2]]),
            cache_key("m", 64, "j", Some("t"), &[vec![1, 2]]),
            cache_key("m", 64, "i", None, &[vec![1, 2]]),
            cache_key("m", 64, "i", Some(""), &[vec![1, 2]]),
            cache_key("m", 64, "i", Some("t"), &[vec![1, 3]]),
            cache_key("m", 64, "i", Some("t"), &[]),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn the_cache_round_trips_exactly_and_skips_bad_lines() {
        let dir = std::env::temp_dir().join(format!("demo-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cache = EmbeddingCache::default();
        cache.insert("a".into(), vec![0.1, -1.0 / 3.0, 1e-8]);
        let file = dir.join(CACHE_FILE);
        let mut bytes = cache.to_jsonl();
        bytes.extend_from_slice(b"{broken\n");
        bytes.extend_from_slice(b"{\"key\": \"\xff\", \"vector\": [1.0]}\n");
        bytes.extend_from_slice(b"{\"key\": \"inf\", \"vector\": [1e39, 1.0]}\n");
        bytes.extend_from_slice(b"{\"key\": \"nan\", \"vector\": [null, 1.0]}\n");
        bytes.extend_from_slice(b"{\"key\": \"zero\", \"vector\": [0.0, 0.0]}\n\n");
        bytes.extend_from_slice(b"{\"key\": \"short\", \"vector\": [0.5, 0.5]}\n");
        std::fs::write(&file, bytes).unwrap();
        let mut back = EmbeddingCache::read_file(&file).unwrap();
        let at: Vec<String> = back.take_dropped().into_iter().map(|d| d.at).collect();
        assert_eq!(at, ["line 2", "line 3", "line 4", "line 5", "line 6"]);
        assert_eq!(back.lookup("a"), Some(&[0.1, -1.0 / 3.0, 1e-8][..]));
        assert_eq!(back.lookup("b"), None);
        assert_eq!(back.stats(), CacheStats { hits: 1, misses: 1 });
        assert_eq!(back.lookup_dim("short", 3), None, "a vector of the wrong width is a miss");
        let dropped = back.take_dropped();
        assert_eq!(dropped.len(), 1);
        assert!(dropped[0].to_string().contains("2 components, expected 3"), "{}", dropped[0]);
        std::fs::write(&file, back.to_jsonl()).unwrap();
        let saved = std::fs::read_to_string(&file).unwrap();
        assert_eq!(saved.lines().count(), 1, "only the good entry is written back: {saved}");
        assert!(EmbeddingCache::read_file(&file).unwrap().take_dropped().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
