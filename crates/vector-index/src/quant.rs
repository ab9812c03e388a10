//! A compact int8 copy of the stored rows, which the HNSW walk scores with (see `graph.rs`).
//!
//! Why: a graph search scores a thousand or more rows per query at random places in memory, so
//! once the rows outgrow the caches (100k x 512 f32 is 200 MB) its cost is memory traffic, not
//! arithmetic. One byte per dimension instead of four cuts that traffic by 4x, and an integer dot
//! product of 64 bytes is one instruction with AVX-512 VNNI. The walk only needs the *order* of
//! candidates to be nearly right; the graph search then re-scores its final candidate list with
//! exact f32 dot products, so every returned score is exact.
//!
//! The code is *symmetric per-vector* scalar quantisation: row `x` is stored as
//! `round(x_i / s)` with `s = max_i |x_i| / 127` (codes in `-127..=127`, never -128), and its
//! scale `s`. A query is quantised the same way, so `dot(x, q) ≈ s_x * s_q * Σ code_x * code_q`
//! with the sum in exact integer arithmetic. Per-vector (not per-dimension) scales keep the sum
//! a pure integer dot product; on unit vectors the error is a few 1e-3 in the score, far below
//! the gaps the re-rank has to fix (measured in the bench: recall per `ef_search` is unchanged to
//! within noise).
//!
//! Rows are padded with zeros to whole 64-byte lines and stored 64-byte aligned, so a row is
//! exactly `lines` cache lines (prefetchable line by line) and the kernels have no tail.
//! Memory: `dim` rounded up to 64 bytes plus 4 bytes (the scale) per row, i.e. about a quarter of
//! the f32 rows. It is derived from the rows when a graph is built or extended, and saved
//! beside the graph (`codes.bin`) so that [`crate::Index::open`] can map it instead of
//! deriving it from every row (a directory without it, from before, derives it on load).
//!
//! Kernels: an AVX-512 VNNI one (`vpdpbusd`, 64 products per instruction) and an AVX2 one
//! (`vpmaddubsw` + `vpmaddwd`, 32 per pair) are picked at run time on x86-64; a portable one
//! (plain i32 sums that the compiler vectorises, including wasm SIMD128 when enabled) runs
//! everywhere else.

use std::sync::Arc;

use crate::fs::Mapping;
use crate::store::Store;

/// Bytes per storage line: one cache line, one AVX-512 register.
pub(crate) const LINE: usize = 64;

/// One 64-byte, 64-byte-aligned line of codes.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Line(pub(crate) [i8; LINE]);

// SAFETY: `Line` is 64 `i8`s (`repr(C, align(64))`, size 64): no padding, any bits valid.
unsafe impl crate::store::Plain for Line {}

const ZERO_LINE: Line = Line([0; LINE]);

/// The int8 codes of a set of vectors, in the order they were given (in memory, or mapped
/// from `codes.bin`; see [`Codes::encode`]).
pub(crate) struct Codes {
    /// Lines per vector: `ceil(dim / 64)`.
    lines: usize,
    codes: Store<Line>,
    scales: Store<f32>,
}

/// `codes.bin`: magic, version, dimension, vector count, lines per vector, zero padding to
/// [`LINE`] bytes (so the code lines that follow are 64-byte aligned in a mapped file), then
/// `count * lines` lines of codes, then `count` little-endian f32 scales.
const CODES_MAGIC: &[u8; 8] = b"QVIXCODE";
const CODES_VERSION: u32 = 1;

impl Codes {
    /// Quantises `vectors`, each of `dim` floats (finite: the index refuses anything else).
    pub(crate) fn new<'a>(dim: usize, vectors: impl ExactSizeIterator<Item = &'a [f32]>) -> Self {
        let lines = dim.div_ceil(LINE).max(1);
        let mut codes = Vec::with_capacity(vectors.len() * lines);
        let mut scales = Vec::with_capacity(vectors.len());
        for v in vectors {
            debug_assert_eq!(v.len(), dim);
            scales.push(quantise(v, lines, &mut codes));
        }
        Self { lines, codes: Store::Owned(codes), scales: Store::Owned(scales) }
    }

    /// The stored form (`codes.bin`, see [`CODES_MAGIC`]).
    pub(crate) fn encode(&self, dim: usize) -> Vec<u8> {
        let (codes, scales) = (self.codes.as_slice(), self.scales.as_slice());
        let mut out = Vec::with_capacity(LINE + codes.len() * LINE + scales.len() * 4);
        out.extend_from_slice(CODES_MAGIC);
        out.extend_from_slice(&CODES_VERSION.to_le_bytes());
        out.extend_from_slice(&(dim as u32).to_le_bytes());
        out.extend_from_slice(&(scales.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.lines as u32).to_le_bytes());
        out.resize(LINE, 0);
        codes.iter().for_each(|line| out.extend(line.0.iter().map(|c| *c as u8)));
        scales.iter().for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
        out
    }

    /// Reads `codes.bin` for `count` vectors of `dim` floats, viewing it in place when it is a
    /// mapped file (and the target little-endian), copying otherwise. Checks the header and
    /// the exact length, so nothing past the file's end is ever viewed; the codes themselves
    /// can be any bytes (a wrong code only misguides the walk, whose results are re-scored
    /// exactly).
    pub(crate) fn decode(bytes: &[u8], map: Option<Arc<Mapping>>, dim: usize, count: usize) -> Result<Self, String> {
        let lines = dim.div_ceil(LINE).max(1);
        let header = bytes.get(..LINE).ok_or("codes file is truncated")?;
        let field = |at: usize, len: usize| {
            u64::from_le_bytes({
                let mut b = [0u8; 8];
                b[..len].copy_from_slice(&header[at..at + len]);
                b
            })
        };
        if &header[..8] != CODES_MAGIC || field(8, 4) != u64::from(CODES_VERSION) {
            return Err("not a codes file of version 1 (bad magic bytes or version)".into());
        }
        if field(12, 4) != dim as u64 || field(16, 8) != count as u64 || field(24, 4) != lines as u64 {
            return Err(format!("codes file does not describe {count} vectors of dimension {dim}"));
        }
        // `count` comes from index.json: size everything with checked arithmetic, and compare
        // with the file's real length before anything is allocated or viewed.
        let code_bytes = count.checked_mul(lines * LINE).ok_or("codes file is too large")?;
        let expected = code_bytes.checked_add(LINE).and_then(|n| n.checked_add(count.checked_mul(4)?));
        if expected != Some(bytes.len()) {
            return Err("codes file has the wrong length".into());
        }
        let scales_at = LINE + code_bytes;
        if let Some(map) = map {
            let codes = Store::mapped(map.clone(), LINE, count * lines);
            let scales = Store::mapped(map, scales_at, count);
            if let (Some(codes), Some(scales)) = (codes, scales) {
                return Ok(Self { lines, codes, scales });
            }
        }
        let codes =
            bytes[LINE..scales_at].chunks_exact(LINE).map(|c| Line(std::array::from_fn(|i| c[i] as i8))).collect();
        let scales =
            bytes[scales_at..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        Ok(Self { lines, codes: Store::Owned(codes), scales: Store::Owned(scales) })
    }

    /// Appends the codes of one more vector (an insertion into the graph; mapped codes are
    /// copied into memory first).
    pub(crate) fn push(&mut self, v: &[f32]) {
        let scale = quantise(v, self.lines, self.codes.to_mut());
        self.scales.to_mut().push(scale);
    }

    /// Number of vectors.
    pub(crate) fn len(&self) -> usize {
        self.scales.as_slice().len()
    }

    /// Lines per vector.
    #[inline]
    pub(crate) fn lines(&self) -> usize {
        self.lines
    }

    /// The code lines of vector `i`.
    #[inline]
    pub(crate) fn code(&self, i: usize) -> &[Line] {
        &self.codes.as_slice()[i * self.lines..(i + 1) * self.lines]
    }

    /// The scale of vector `i`.
    #[inline]
    pub(crate) fn scale(&self, i: usize) -> f32 {
        self.scales.as_slice()[i]
    }

    /// Whether vector `i`'s codes and scale are what quantising `v` gives (for `verify`).
    pub(crate) fn matches(&self, i: usize, v: &[f32]) -> bool {
        let mut fresh = Vec::with_capacity(self.lines);
        let scale = quantise(v, self.lines, &mut fresh);
        scale.to_bits() == self.scale(i).to_bits() && fresh.iter().zip(self.code(i)).all(|(a, b)| a.0 == b.0)
    }

    /// Heap bytes held (the figure the crate docs quote).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.codes.as_slice().len() * LINE + self.scales.as_slice().len() * 4
    }
}

/// Appends the code lines of `v` (zero-padded to `lines`) and returns its scale.
fn quantise(v: &[f32], lines: usize, out: &mut Vec<Line>) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 && max.is_finite() { max / 127.0 } else { 1.0 };
    let inv = 1.0 / scale;
    let start = out.len();
    out.resize(start + lines, ZERO_LINE);
    for (line, chunk) in out[start..].iter_mut().zip(v.chunks(LINE)) {
        for (code, x) in line.0.iter_mut().zip(chunk) {
            // Round half away from zero by hand: `f32::round` is a library call on the default
            // x86-64 target (no SSE4.1); this took quantising 100k x 512 rows from 0.23 s to
            // 0.15 s. `as` truncates (NaN -> 0); the clamp keeps -128 out (see the module docs).
            let y = x * inv;
            *code = ((y + 0.5f32.copysign(y)) as i32).clamp(-127, 127) as i8;
        }
    }
    scale
}

/// A query prepared for [`Scorer::dot`]: its codes, their absolute values (the AVX2 kernel's
/// unsigned operand), and the sum of its codes (the VNNI kernel's offset correction).
pub(crate) struct Query {
    code: Vec<Line>,
    #[cfg(target_arch = "x86_64")]
    abs: Vec<Line>,
    #[cfg(target_arch = "x86_64")]
    sum: i32,
    /// Not needed by the walk (one factor common to every node); tests check the approximation.
    #[cfg(test)]
    scale: f32,
}

impl Query {
    pub(crate) fn new(q: &[f32], lines: usize) -> Self {
        let mut code = Vec::with_capacity(lines);
        let _scale = quantise(q, lines, &mut code);
        Self {
            #[cfg(target_arch = "x86_64")]
            abs: code.iter().map(|l| Line(l.0.map(|c| c.abs()))).collect(),
            #[cfg(target_arch = "x86_64")]
            sum: code.iter().flat_map(|l| l.0).map(i32::from).sum(),
            code,
            #[cfg(test)]
            scale: _scale,
        }
    }

    /// A stored vector's codes as a query, without quantising it again (the neighbour
    /// heuristic compares stored vectors with each other). Its scale is the stored one.
    pub(crate) fn from_code(code: &[Line]) -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            abs: code.iter().map(|l| Line(l.0.map(|c| c.abs()))).collect(),
            #[cfg(target_arch = "x86_64")]
            sum: code.iter().flat_map(|l| l.0).map(i32::from).sum(),
            code: code.to_vec(),
            #[cfg(test)]
            scale: f32::NAN,
        }
    }

    /// The query's scale: `s_q` in the module docs.
    #[cfg(test)]
    pub(crate) fn scale(&self) -> f32 {
        self.scale
    }
}

/// The integer dot-product kernel for this CPU, chosen once per search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scorer {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Vnni,
}

impl Scorer {
    /// The fastest kernel the CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vnni")
            {
                return Scorer::Vnni;
            }
            if std::is_x86_feature_detected!("avx2") {
                return Scorer::Avx2;
            }
        }
        Scorer::Portable
    }

    /// Every kernel this CPU runs (for tests).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Self> {
        let mut all = vec![Scorer::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                all.push(Scorer::Avx2);
            }
            if Self::detect() == Scorer::Vnni {
                all.push(Scorer::Vnni);
            }
        }
        all
    }

    /// `Σ code_x * code_q` over the code lines `x` (of the same length as the query's).
    #[inline]
    pub(crate) fn dot(self, x: &[Line], q: &Query) -> i32 {
        assert_eq!(x.len(), q.code.len(), "code length differs from the query's");
        match self {
            Scorer::Portable => dot_portable(x, &q.code),
            // SAFETY: `detect`/`available` return these variants only when the CPU has the
            // features; lengths are equal (asserted above).
            #[cfg(target_arch = "x86_64")]
            Scorer::Avx2 => unsafe { dot_avx2(x, &q.code, &q.abs) },
            #[cfg(target_arch = "x86_64")]
            Scorer::Vnni => unsafe { dot_vnni(x, &q.code) - 128 * q.sum },
        }
    }
}

/// Portable kernel: i16 products summed into i32 lanes, which LLVM vectorises.
fn dot_portable(x: &[Line], q: &[Line]) -> i32 {
    let mut acc = [0i32; 16];
    for (x, q) in x.iter().zip(q) {
        for (x, q) in x.0.chunks_exact(16).zip(q.0.chunks_exact(16)) {
            for l in 0..16 {
                acc[l] += i32::from(x[l]) * i32::from(q[l]);
            }
        }
    }
    acc.iter().sum()
}

/// AVX2: `vpmaddubsw(|q|, sign(x, q))` multiplies unsigned |q| by x with q's sign and adds
/// pairs into i16 (at most 2 * 127 * 127, no saturation), `vpmaddwd` by ones widens to i32.
/// Safety: AVX2 present; `x`, `q` and `abs` have equal lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(x: &[Line], q: &[Line], abs: &[Line]) -> i32 {
    use std::arch::x86_64::*;
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_si256(); 2];
    for i in 0..x.len() {
        for (h, acc) in acc.iter_mut().enumerate() {
            // SAFETY: lines are 64-byte aligned, so both 32-byte halves are aligned loads.
            let (xv, qv, av) = unsafe {
                let at = |l: &Line| l.0.as_ptr().add(32 * h).cast::<__m256i>();
                (_mm256_load_si256(at(&x[i])), _mm256_load_si256(at(&q[i])), _mm256_load_si256(at(&abs[i])))
            };
            let pairs = _mm256_maddubs_epi16(av, _mm256_sign_epi8(xv, qv));
            *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
        }
    }
    let v = _mm256_add_epi32(acc[0], acc[1]);
    let half = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let quarter = _mm_add_epi32(half, _mm_shuffle_epi32::<0b01_00_11_10>(half));
    _mm_cvtsi128_si32(_mm_add_epi32(quarter, _mm_shuffle_epi32::<0b10_11_00_01>(quarter)))
}

/// AVX-512 VNNI: `vpdpbusd` multiplies unsigned by signed bytes and accumulates groups of 4 into
/// i32 without saturation. `x ^ 0x80` is `x + 128` as an unsigned byte, so this returns
/// `Σ (x + 128) q`; the caller subtracts `128 Σ q`. Safety: AVX-512 F/BW/VNNI present; equal
/// lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_vnni(x: &[Line], q: &[Line]) -> i32 {
    use std::arch::x86_64::*;
    let flip = _mm512_set1_epi8(-128);
    let mut acc = [_mm512_setzero_si512(); 2];
    let pairs = x.len() / 2;
    for i in 0..pairs {
        for (h, acc) in acc.iter_mut().enumerate() {
            let j = 2 * i + h;
            // SAFETY: lines are 64-byte aligned 64-byte blocks.
            let (xv, qv) =
                unsafe { (_mm512_load_si512(x[j].0.as_ptr().cast()), _mm512_load_si512(q[j].0.as_ptr().cast())) };
            *acc = _mm512_dpbusd_epi32(*acc, _mm512_xor_si512(xv, flip), qv);
        }
    }
    if x.len() % 2 == 1 {
        let j = x.len() - 1;
        // SAFETY: as above.
        let (xv, qv) =
            unsafe { (_mm512_load_si512(x[j].0.as_ptr().cast()), _mm512_load_si512(q[j].0.as_ptr().cast())) };
        acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_xor_si512(xv, flip), qv);
    }
    _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, salt: u64) -> Vec<f32> {
        let mut state = salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn every_kernel_equals_the_integer_reference_and_approximates_the_dot() {
        for dim in [1, 5, 63, 64, 65, 128, 200, 512, 2048] {
            let (xs, q) = (data(7 * dim, dim as u64), data(dim, 99));
            let codes = Codes::new(dim, xs.chunks_exact(dim));
            let query = Query::new(&q, codes.lines());
            assert_eq!(codes.bytes(), 7 * (dim.div_ceil(64) * 64 + 4));
            for i in 0..7 {
                let want: i32 = codes
                    .code(i)
                    .iter()
                    .zip(&query.code)
                    .flat_map(|(a, b)| a.0.iter().zip(b.0))
                    .map(|(a, b)| i32::from(*a) * i32::from(b))
                    .sum();
                for scorer in Scorer::available() {
                    assert_eq!(scorer.dot(codes.code(i), &query), want, "{scorer:?} dim {dim}");
                }
                let approx = want as f32 * codes.scale(i) * query.scale();
                let exact: f32 = xs[i * dim..(i + 1) * dim].iter().zip(&q).map(|(a, b)| a * b).sum();
                let norms = (xs[i * dim..(i + 1) * dim].iter().map(|a| a * a).sum::<f32>()
                    * q.iter().map(|a| a * a).sum::<f32>())
                .sqrt();
                assert!((approx - exact).abs() <= 0.02 * norms, "dim {dim}: {approx} vs {exact}");
            }
        }
    }

    #[test]
    fn extreme_codes_do_not_saturate_and_zero_vectors_are_safe() {
        let dim = 256;
        let x: Vec<f32> = (0..dim).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let codes = Codes::new(dim, [x.as_slice(), &vec![0.0; dim]].into_iter());
        for (q, want) in
            [(x.clone(), 127 * 127 * dim as i32), (x.iter().map(|v| -v).collect(), -127 * 127 * dim as i32)]
        {
            let query = Query::new(&q, codes.lines());
            for scorer in Scorer::available() {
                assert_eq!(scorer.dot(codes.code(0), &query), want, "{scorer:?}");
                assert_eq!(scorer.dot(codes.code(1), &query), 0, "{scorer:?}");
            }
        }
    }
}
