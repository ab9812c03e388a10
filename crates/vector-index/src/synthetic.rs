//! Deterministic synthetic embeddings for tests, fuzz seeds and benchmarks.
//!
//! Real embeddings are clustered (many near-duplicates of a few topics), which is what HNSW is
//! built for; i.i.d. Gaussian vectors are unrealistically hard for HNSW and unrealistically easy
//! for everything else. [`clustered`] draws `n` unit vectors around `clusters` random unit
//! centres: `normalise(centre + spread * g / sqrt(dim))`, `g ~ N(0, I)`. With `spread = 1` a
//! point's cosine to its centre is about 0.7 and to another centre about 0.

/// A small, fast, seedable generator (SplitMix64), so fixtures need no `rand` dependency and
/// are identical on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f32 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize
    }
}

/// `n * dim` i.i.d. standard normal values, row-major.
pub fn gaussian(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n * dim).map(|_| rng.gaussian()).collect()
}

/// `n` clustered unit vectors of `dim` dimensions, row-major (see the module docs).
/// The same `seed` and `clusters` give the same centres, so base and query sets drawn with
/// different `point_seed`s share their topics.
pub fn clustered(n: usize, dim: usize, clusters: usize, spread: f32, seed: u64, point_seed: u64) -> Vec<f32> {
    let mut centres = gaussian(clusters, dim, seed);
    centres.chunks_exact_mut(dim).for_each(normalise);
    let mut rng = Rng::new(point_seed ^ 0x005e_ed0f_da7a);
    let scale = spread / (dim as f32).sqrt();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let centre = &centres[rng.below(clusters) * dim..][..dim];
        let start = out.len();
        out.extend(centre.iter().map(|c| c + scale * rng.gaussian()));
        normalise(&mut out[start..]);
    }
    out
}

/// Scales `v` to unit length in place.
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
}
