//! Chroma upsampling as libjpeg-turbo does it by default (`do_fancy_upsampling`, `jdsample.c`):
//! a triangle filter ("fancy") for 2:1 horizontal, 2:1 vertical and 2:1 both ways, with its
//! alternating rounding biases, and plain replication for every other integer ratio and for
//! components at most 2 samples wide. Rows above the top and below the component's last real
//! row repeat the edge row, as libjpeg's context rows do; columns past the last real one are
//! never read.

use super::plane::Plane;

/// How one component is brought to full resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upsampler {
    /// Already full size.
    Full,
    /// 2:1 horizontally, triangle filter.
    H2V1Fancy,
    /// 2:1 vertically, triangle filter.
    H1V2Fancy,
    /// 2:1 both ways, triangle filter in both directions.
    H2V2Fancy,
    /// Each sample repeated `h` times across and `v` times down.
    Replicate {
        /// Horizontal factor.
        h: usize,
        /// Vertical factor.
        v: usize,
    },
}

impl Upsampler {
    /// libjpeg-turbo's choice (`jinit_upsampler`) for a component with sampling factors
    /// `h`x`v` in a frame whose largest are `max_h`x`max_v`; `None` for non-integer ratios.
    pub(super) fn choose(h: usize, v: usize, max_h: usize, max_v: usize, width: usize) -> Option<Self> {
        if !max_h.is_multiple_of(h) || !max_v.is_multiple_of(v) {
            return None;
        }
        let (hx, vx) = (max_h / h, max_v / v);
        Some(match (hx, vx) {
            (1, 1) => Self::Full,
            (2, 1) if width > 2 => Self::H2V1Fancy,
            (1, 2) => Self::H1V2Fancy,
            (2, 2) if width > 2 => Self::H2V2Fancy,
            _ => Self::Replicate { h: hx, v: vx },
        })
    }

    /// Output samples per input sample across.
    pub(super) fn h_factor(self) -> usize {
        match self {
            Self::Full | Self::H1V2Fancy => 1,
            Self::H2V1Fancy | Self::H2V2Fancy => 2,
            Self::Replicate { h, .. } => h,
        }
    }

    /// Full-resolution row `y` of the component: borrowed from the plane when no work is
    /// needed, else built in `buf` (at least `plane.width * h_factor()` long).
    pub(super) fn row<'p>(self, plane: &'p Plane, y: usize, buf: &'p mut [u8]) -> &'p [u8] {
        let last = plane.height - 1;
        match self {
            Self::Full => plane.row(y.min(last)),
            Self::H2V1Fancy => {
                h2v1(plane.row(y.min(last)), buf);
                buf
            }
            Self::H1V2Fancy => {
                let (near, far, bias) = vertical_neighbours(y, last);
                let (near, far) = (plane.row(near), plane.row(far));
                for ((o, &n), &f) in buf.iter_mut().zip(near).zip(far) {
                    *o = ((3 * u32::from(n) + u32::from(f) + bias) >> 2) as u8;
                }
                buf
            }
            Self::H2V2Fancy => {
                let (near, far, _) = vertical_neighbours(y, last);
                h2v2(plane.row(near), plane.row(far), buf);
                buf
            }
            Self::Replicate { h, v } => {
                let src = plane.row((y / v).min(last));
                for (chunk, &s) in buf.chunks_exact_mut(h).zip(src) {
                    chunk.fill(s);
                }
                buf
            }
        }
    }
}

/// For output row `y` of a 2:1 vertical filter: the nearer input row, the further one (the
/// row above for even `y`, below for odd, repeated at the edges) and libjpeg's rounding bias
/// for the 1-D case (1 above, 2 below).
fn vertical_neighbours(y: usize, last: usize) -> (usize, usize, u32) {
    let near = (y / 2).min(last);
    if y.is_multiple_of(2) { (near, near.saturating_sub(1), 1) } else { (near, (near + 1).min(last), 2) }
}

/// 3/4 nearer + 1/4 further sample, biases 1 (left output) and 2 (right output).
fn h2v1(src: &[u8], out: &mut [u8]) {
    let w = src.len();
    let s = |i: usize| u32::from(src[i]);
    out[0] = src[0];
    out[1] = ((3 * s(0) + s(1) + 2) >> 2) as u8;
    for i in 1..w - 1 {
        out[2 * i] = ((3 * s(i) + s(i - 1) + 1) >> 2) as u8;
        out[2 * i + 1] = ((3 * s(i) + s(i + 1) + 2) >> 2) as u8;
    }
    out[2 * w - 2] = ((3 * s(w - 1) + s(w - 2) + 1) >> 2) as u8;
    out[2 * w - 1] = src[w - 1];
}

/// Vertical 3:1 column sums, then the same horizontally: 9/16, 3/16, 3/16, 1/16 with biases
/// 8 (left output) and 7 (right output), the edge columns using the sum itself.
fn h2v2(near: &[u8], far: &[u8], out: &mut [u8]) {
    let w = near.len();
    let sum = |i: usize| 3 * u32::from(near[i]) + u32::from(far[i]);
    let first = sum(0);
    out[0] = ((first * 4 + 8) >> 4) as u8;
    out[1] = ((first * 3 + sum(1) + 7) >> 4) as u8;
    for i in 1..w - 1 {
        let (last, this, next) = (sum(i - 1), sum(i), sum(i + 1));
        out[2 * i] = ((this * 3 + last + 8) >> 4) as u8;
        out[2 * i + 1] = ((this * 3 + next + 7) >> 4) as u8;
    }
    let (last, this) = (sum(w - 2), sum(w - 1));
    out[2 * w - 2] = ((this * 3 + last + 8) >> 4) as u8;
    out[2 * w - 1] = ((this * 4 + 7) >> 4) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_follows_libjpeg() {
        assert_eq!(Upsampler::choose(1, 1, 2, 2, 60), Some(Upsampler::H2V2Fancy));
        assert_eq!(Upsampler::choose(1, 1, 2, 2, 2), Some(Upsampler::Replicate { h: 2, v: 2 }));
        assert_eq!(Upsampler::choose(1, 2, 2, 2, 60), Some(Upsampler::H2V1Fancy));
        assert_eq!(Upsampler::choose(2, 1, 2, 2, 1), Some(Upsampler::H1V2Fancy));
        assert_eq!(Upsampler::choose(1, 1, 4, 1, 60), Some(Upsampler::Replicate { h: 4, v: 1 }));
        assert_eq!(Upsampler::choose(2, 2, 3, 2, 60), None);
    }

    #[test]
    fn h2v1_edges_copy_and_middle_blends() {
        let mut out = [0u8; 6];
        h2v1(&[0, 100, 200], &mut out);
        assert_eq!(out, [0, 25, 75, 125, 175, 200]);
    }

    #[test]
    fn h2v2_uniform_stays_uniform() {
        let mut out = [0u8; 8];
        h2v2(&[77; 4], &[77; 4], &mut out);
        assert_eq!(out, [77; 8]);
    }
}
