//! The episode and cache readers on hostile bytes: the sample episodes and a cache file, each
//! mutated thousands of times (bytes flipped, cut, spliced, deep nesting), must give a demo or
//! a typed problem, and a cache with its bad lines dropped, never a panic; so must a library's
//! files (what a directory URL serves) with any one file mutated. A deterministic
//! stand-in for the fuzz targets in `fuzz/` (which need nightly), run on every CI build.

use std::path::Path;

use demo_retriever::{Demo, DemoRetriever, EmbedBatch, EmbeddingCache, RetrieverSettings, read_library};
use qwen3_vl_embedder::{EmbedError, EmbedInput};
use reference_fixtures::fixtures_dir;

/// xorshift64*: reproducible mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random mutation of `seed`: flip bytes, cut, duplicate a span, or insert JSON-ish noise.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len());
        match rng.below(5) {
            0 if !out.is_empty() => out[at] = rng.next() as u8,
            1 => out.truncate(at),
            2 if !out.is_empty() => {
                let end = (at + rng.below(64)).min(out.len());
                let span = out[at..end].to_vec();
                out.splice(at..at, span);
            }
            3 => {
                let noise: &[u8] =
                    [&b"\""[..], b"{", b"}", b"[", b"]", b",", b":", b"null", b"1e999", b"\\u0000", b"\xff"]
                        [rng.below(11)];
                out.splice(at..at, noise.iter().copied());
            }
            _ => out.insert(at.min(out.len()), b'\n'),
        }
    }
    out
}

#[test]
fn mutated_episodes_give_a_demo_or_a_problem() {
    let dir = fixtures_dir().join("demo-library/episodes");
    let seeds: Vec<Vec<u8>> =
        std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    let mut rng = Rng(0x005e_ed0f_e915);
    let (mut demos, mut problems) = (0, 0);
    for i in 0..3000 {
        let bytes = mutate(&mut rng, &seeds[i % seeds.len()]);
        let text = String::from_utf8_lossy(&bytes);
        match Demo::from_episode_json(&text, Path::new("/nonexistent")) {
            Ok(_) => demos += 1,
            Err(p) => {
                assert!(!p.to_string().is_empty());
                problems += 1;
            }
        }
    }
    // Nesting deeper than serde_json's recursion limit is an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Demo::from_episode_json(&deep, Path::new("/")).is_err());
    assert!(problems > 1000 && demos > 0, "the mutations reach both outcomes ({demos} demos, {problems} problems)");
}

#[test]
fn mutated_cache_files_keep_their_good_lines() {
    let mut cache = EmbeddingCache::default();
    for k in 0..20 {
        cache.insert(format!("{k:064x}"), (0..8).map(|i| (i + k) as f32 / 10.0 + 0.05).collect());
    }
    let seed = cache.to_jsonl();
    assert_eq!(EmbeddingCache::parse(&seed).len(), 20);
    let mut rng = Rng(0xcac4e);
    for _ in 0..3000 {
        let bytes = mutate(&mut rng, &seed);
        let mut parsed = EmbeddingCache::parse(&bytes);
        let lines = bytes.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
        let dropped = parsed.take_dropped().len();
        assert!(parsed.len() + dropped <= lines, "every line is kept once or dropped once");
    }
}

/// Unit vectors from the goal's length: a library without a model.
struct ByLength;

impl EmbedBatch for ByLength {
    fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(inputs
            .iter()
            .map(|i| {
                let n = i.text.as_deref().map_or(1, str::len) as f32;
                let v: Vec<f32> = (0..dim).map(|k| ((k as f32 + 1.0) * n).sin() + 1.5).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

#[test]
fn a_library_with_any_file_mutated_loads_or_is_a_typed_error() {
    let mut r = DemoRetriever::new(RetrieverSettings::new("by-length", 8)).unwrap();
    r.add_demos(read_library(&fixtures_dir().join("demo-library/episodes")).unwrap().demos).unwrap();
    r.build_index(&ByLength, 8, &mut |_| {}).unwrap();
    let files = r.to_files().unwrap();
    let names = files.names();
    let mut rng = Rng(0x0f11_e5ed);
    let (mut loaded, mut refused) = (0, 0);
    for i in 0..600 {
        let name = &names[i % names.len()];
        let mut hostile = files.clone();
        hostile.insert(name, mutate(&mut rng, &files.get(name).unwrap())).unwrap();
        match DemoRetriever::from_files(&hostile) {
            Ok(_) => loaded += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
        }
    }
    // The cache drops bad lines (so it often loads); everything else is checksummed or parsed.
    assert!(refused > 300 && loaded > 0, "loaded {loaded}, refused {refused}");
}
