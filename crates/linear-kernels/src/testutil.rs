//! Test helpers: a seeded generator (no `rand` dependency) and the shapes every kernel is
//! checked on.

/// (m, k, n) shapes with every awkward edge: one element, M = 1, odd K and N, K not a multiple
/// of the pair (bf16) or the block (int8), N not a multiple of the 32-column panel, M not a
/// multiple of any kernel's row count, M above one parallel task (48 rows), K over several
/// chunks of the K loop with a partial last one (1101: 550.5 bf16 pairs, 34.4 int8 blocks), and
/// the model's K.
pub(crate) const SHAPES: [(usize, usize, usize); 11] = [
    (1, 1, 1),
    (1, 33, 17),
    (3, 64, 31),
    (7, 100, 65),
    (9, 31, 33),
    (2, 2, 64),
    (32, 2048, 96),
    (1, 2048, 130),
    (130, 70, 40),
    (5, 6144, 33),
    (11, 1101, 70),
];

/// xorshift64*: deterministic, so a failure reproduces.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [-1, 1), times a per-call magnitude in [2^-4, 2^4) so that blocks and rows
    /// have different scales.
    pub(crate) fn value(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let unit = (bits >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
        let scale = f32::powi(2.0, ((bits >> 8) % 9) as i32 - 4);
        (2.0 * unit - 1.0) * scale
    }

    /// `len` values.
    pub(crate) fn values(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.value()).collect()
    }
}

/// f64 reference `[m, n]` of x `[m, k]` · w `[k, n]`, and the per-output Σ|x||w| that scales
/// every error bound.
pub(crate) fn reference(x: &[f64], w: &[f64], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut y = vec![0.0; m * n];
    let mut abs = vec![0.0; m * n];
    for r in 0..m {
        for kk in 0..k {
            for c in 0..n {
                y[r * n + c] += x[r * k + kk] * w[kk * n + c];
                abs[r * n + c] += (x[r * k + kk] * w[kk * n + c]).abs();
            }
        }
    }
    (y, abs)
}

/// Panics with the worst element if any `|got - want| > bound * scale`.
pub(crate) fn assert_close(what: &str, got: &[f32], want: &[f64], scale: &[f64], bound: f64) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    let mut worst = (0.0, 0);
    for i in 0..got.len() {
        let err = (f64::from(got[i]) - want[i]).abs();
        let allowed = bound * scale[i] + 1e-30;
        assert!(
            err <= allowed,
            "{what}: y[{i}] = {} but the reference is {} (error {err:e} > allowed {allowed:e})",
            got[i],
            want[i]
        );
        if scale[i] > 0.0 && err / scale[i] > worst.0 {
            worst = (err / scale[i], i);
        }
    }
    eprintln!("{what}: worst error / scale = {:e} at {} (allowed {bound:e})", worst.0, worst.1);
}

/// The usual growth of f32 rounding errors in a length-`k` dot product, relative to Σ|x||w|:
/// √k · 2^-24 (errors of random sign add like a random walk), with a factor 8 of margin.
/// The worst case k · 2^-24 would be too loose to notice a dropped term at k = 2048.
pub(crate) fn f32_dot_bound(k: usize) -> f64 {
    8.0 * ((k + 1) as f64).sqrt() * f64::powi(2.0, -24)
}
