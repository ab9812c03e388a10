//! Query embeddings remembered between queries: an [`EmbedBatch`] wrapper with a small LRU.
//!
//! A program that answers queries for a while (an extension's background page, a server) sees
//! the same task and screenshot again and again; each embedding is a forward pass of the model
//! (a second or more on a CPU for the 2B model). [`CachedEmbedder`] keys every input like the
//! demo [`EmbeddingCache`](crate::EmbeddingCache) ([`cache_key`]: model, dimension, instruction,
//! text and the sha256 of each image), so a repeated query costs a hash, and the least recently
//! used vectors are dropped beyond the capacity. It lives in memory only.

use std::collections::HashMap;
use std::sync::Mutex;

use qwen3_vl_embedder::{EmbedError, EmbedInput};

use crate::cache::cache_key;
use crate::retriever::EmbedBatch;

/// What a [`CachedEmbedder`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryCacheStats {
    /// Inputs answered from the cache.
    pub hits: u64,
    /// Inputs sent to the model.
    pub misses: u64,
    /// Vectors held now.
    pub len: usize,
}

#[derive(Default)]
struct Lru {
    /// key -> (last use, vector)
    entries: HashMap<String, (u64, Vec<f32>)>,
    clock: u64,
    hits: u64,
    misses: u64,
}

impl Lru {
    fn get(&mut self, key: &str) -> Option<Vec<f32>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(used, v)| {
            *used = clock;
            v.clone()
        })
    }

    fn put(&mut self, key: String, vector: Vec<f32>, capacity: usize) {
        if capacity == 0 {
            return;
        }
        if self.entries.len() >= capacity && !self.entries.contains_key(&key) {
            // A linear scan: the capacity is small (hundreds), and a query's forward pass costs
            // far more than this.
            if let Some(oldest) = self.entries.iter().min_by_key(|(_, (used, _))| *used).map(|(k, _)| k.clone()) {
                self.entries.remove(&oldest);
            }
        }
        self.clock += 1;
        self.entries.insert(key, (self.clock, vector));
    }
}

/// An [`EmbedBatch`] that answers repeated inputs from memory (see the module docs).
///
/// ```
/// use demo_retriever::{CachedEmbedder, EmbedBatch};
/// use qwen3_vl_embedder::{EmbedError, EmbedInput};
///
/// struct Ones;
/// impl EmbedBatch for Ones {
///     fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
///         Ok(inputs.iter().map(|_| vec![1.0 / (dim as f32).sqrt(); dim]).collect())
///     }
/// }
/// let cached = CachedEmbedder::new(Ones, "my-model", 128);
/// let q = EmbedInput::text("Turn off Night Shift");
/// cached.embed_inputs(&[q.clone()], 4)?;
/// cached.embed_inputs(&[q], 4)?;
/// assert_eq!((cached.stats().misses, cached.stats().hits), (1, 1));
/// # Ok::<(), EmbedError>(())
/// ```
pub struct CachedEmbedder<E> {
    inner: E,
    vectors: QueryVectors,
}

impl<E: EmbedBatch> CachedEmbedder<E> {
    /// Wraps `inner`, which embeds with the model named `model` (part of every key, so one
    /// cache never mixes models), keeping at most `capacity` vectors (0 turns caching off).
    pub fn new(inner: E, model: impl Into<String>, capacity: usize) -> Self {
        Self { inner, vectors: QueryVectors::new(model, capacity) }
    }

    /// Hits, misses and size so far.
    pub fn stats(&self) -> QueryCacheStats {
        self.vectors.stats()
    }

    /// The wrapped embedder.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

impl<E: EmbedBatch> EmbedBatch for CachedEmbedder<E> {
    fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out: Vec<Option<Vec<f32>>> = inputs.iter().map(|i| self.vectors.get(i, dim)).collect();
        let missing: Vec<usize> = (0..inputs.len()).filter(|&i| out[i].is_none()).collect();
        // The model runs without the lock held, so other threads' hits are not kept waiting.
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            let batch: Vec<EmbedInput> = missing.iter().map(|&i| inputs[i].clone()).collect();
            self.inner.embed_inputs(&batch, dim)?
        };
        for (&i, vector) in missing.iter().zip(fresh) {
            self.vectors.put(&inputs[i], dim, vector.clone());
            out[i] = Some(vector);
        }
        // Every slot is filled: hits above, misses from `fresh` (one vector per input sent).
        out.into_iter()
            .map(|v| {
                v.ok_or_else(|| EmbedError::BadEmbedding {
                    input: "query".into(),
                    problem: "missing from the batch".into(),
                })
            })
            .collect()
    }
}

/// The LRU behind [`CachedEmbedder`], for callers whose model cannot block (wasm): look a
/// query up with [`Self::get`], embed it yourself on a miss, store it with [`Self::put`].
///
/// ```
/// use demo_retriever::QueryVectors;
/// use qwen3_vl_embedder::EmbedInput;
///
/// let cache = QueryVectors::new("my-model", 2);
/// let q = EmbedInput::text("Turn off Night Shift");
/// assert!(cache.get(&q, 4).is_none());
/// cache.put(&q, 4, vec![0.5; 4]);
/// assert_eq!(cache.get(&q, 4), Some(vec![0.5; 4]));
/// assert_eq!((cache.stats().misses, cache.stats().hits), (1, 1));
/// ```
pub struct QueryVectors {
    model: String,
    capacity: usize,
    lru: Mutex<Lru>,
}

impl QueryVectors {
    /// Vectors of the model named `model` (part of every key), at most `capacity` of them
    /// (0 turns caching off: every lookup misses).
    pub fn new(model: impl Into<String>, capacity: usize) -> Self {
        Self { model: model.into(), capacity, lru: Mutex::default() }
    }

    /// The vector of `input` at `dim`, counting a hit or a miss.
    pub fn get(&self, input: &EmbedInput, dim: usize) -> Option<Vec<f32>> {
        let key = self.key(input, dim);
        let mut lru = self.lock();
        let found = lru.get(&key);
        match found {
            Some(_) => lru.hits += 1,
            None => lru.misses += 1,
        }
        found
    }

    /// Remembers the vector of `input` at `dim`, dropping the least recently used beyond the
    /// capacity.
    pub fn put(&self, input: &EmbedInput, dim: usize, vector: Vec<f32>) {
        let key = self.key(input, dim);
        self.lock().put(key, vector, self.capacity);
    }

    /// At most this many vectors are kept (0: off).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hits, misses and size so far.
    pub fn stats(&self) -> QueryCacheStats {
        let lru = self.lock();
        QueryCacheStats { hits: lru.hits, misses: lru.misses, len: lru.entries.len() }
    }

    fn key(&self, input: &EmbedInput, dim: usize) -> String {
        cache_key(&self.model, dim, input.instruction.as_deref().unwrap_or(""), input.text.as_deref(), &input.images)
    }

    /// The LRU; a panic elsewhere while it was held leaves it usable (it only caches).
    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts the inputs it embeds; the vector encodes the text's length and the dimension.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl EmbedBatch for Counting {
        fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.fetch_add(inputs.len(), Ordering::Relaxed);
            Ok(inputs.iter().map(|i| vec![i.text.as_ref().map_or(0, String::len) as f32; dim]).collect())
        }
    }

    fn text(t: &str) -> EmbedInput {
        EmbedInput::text(t)
    }

    #[test]
    fn repeated_inputs_are_answered_from_the_cache_in_order() {
        let c = CachedEmbedder::new(Counting::default(), "m", 8);
        let first = c.embed_inputs(&[text("a"), text("bb")], 3).unwrap();
        let again = c.embed_inputs(&[text("bb"), text("ccc"), text("a")], 3).unwrap();
        assert_eq!(first, [vec![1.0; 3], vec![2.0; 3]]);
        assert_eq!(again, [vec![2.0; 3], vec![3.0; 3], vec![1.0; 3]]);
        assert_eq!(c.inner().0.load(Ordering::Relaxed), 3, "only ccc was new");
        assert_eq!(c.stats(), QueryCacheStats { hits: 2, misses: 3, len: 3 });
    }

    #[test]
    fn keys_include_dimension_and_instruction() {
        let c = CachedEmbedder::new(Counting::default(), "m", 8);
        c.embed_inputs(&[text("a")], 3).unwrap();
        c.embed_inputs(&[text("a")], 4).unwrap();
        c.embed_inputs(&[text("a").with_instruction("other")], 3).unwrap();
        assert_eq!(c.stats().misses, 3);
    }

    #[test]
    fn the_least_recently_used_vector_goes_first() {
        let c = CachedEmbedder::new(Counting::default(), "m", 2);
        c.embed_inputs(&[text("a")], 1).unwrap();
        c.embed_inputs(&[text("b")], 1).unwrap();
        c.embed_inputs(&[text("a")], 1).unwrap(); // a is now newer than b
        c.embed_inputs(&[text("c")], 1).unwrap(); // evicts b
        assert_eq!(c.stats().len, 2);
        let before = c.stats().misses;
        c.embed_inputs(&[text("a")], 1).unwrap();
        assert_eq!(c.stats().misses, before, "a stayed");
        c.embed_inputs(&[text("b")], 1).unwrap();
        assert_eq!(c.stats().misses, before + 1, "b was evicted");
        let off = CachedEmbedder::new(Counting::default(), "m", 0);
        off.embed_inputs(&[text("a")], 1).unwrap();
        off.embed_inputs(&[text("a")], 1).unwrap();
        assert_eq!(off.stats(), QueryCacheStats { hits: 0, misses: 2, len: 0 });
    }
}
