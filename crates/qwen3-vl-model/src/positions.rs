//! 3-axis (T, H, W) position ids for the text decoder's MRoPE (`get_rope_index`).
//!
//! Pure integer code over token ids and image grids, kept apart from tensor code so it is
//! easy to test against the reference's worked examples.

use crate::error::{ModelError, Result};

/// One image as the decoder sees it: a run of `merged_h * merged_w` image tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedGrid {
    /// Rows of merged tokens (patch rows / merge size).
    pub merged_h: usize,
    /// Columns of merged tokens (patch columns / merge size).
    pub merged_w: usize,
}

impl MergedGrid {
    /// The number of `<|image_pad|>` tokens the image takes in the text.
    pub fn tokens(&self) -> usize {
        self.merged_h * self.merged_w
    }
}

/// Position ids `[axis][row][column]` for a right-padded batch.
///
/// `rows[b]` are the valid (unpadded) token ids of row `b`; the batch is padded to `seq_len`.
/// Text tokens advance all three axes together. An image run starting at position `s` gives
/// token (i, j) the position (s, s + i, s + j); the text after it resumes at
/// `s + max(merged_h, merged_w)`. Images are consumed from `grids` in batch order. Padding
/// gets position 1, as in the reference.
pub fn mrope_position_ids(
    rows: &[&[u32]],
    seq_len: usize,
    grids: &[MergedGrid],
    image_token_id: u32,
) -> Result<[Vec<Vec<i64>>; 3]> {
    let mut out: [Vec<Vec<i64>>; 3] = Default::default();
    let mut grids = grids.iter();
    for ids in rows {
        if ids.len() > seq_len {
            return Err(ModelError::Input(format!("row of {} tokens exceeds the padded length {seq_len}", ids.len())));
        }
        let mut axes = [vec![1i64; seq_len], vec![1i64; seq_len], vec![1i64; seq_len]];
        let mut next = 0i64;
        let mut i = 0;
        while i < ids.len() {
            if ids[i] != image_token_id {
                for axis in &mut axes {
                    axis[i] = next;
                }
                next += 1;
                i += 1;
                continue;
            }
            let grid = grids.next().ok_or_else(|| ModelError::Input("more image token runs than images".into()))?;
            let n = grid.tokens();
            if i + n > ids.len() || ids[i..i + n].iter().any(|&t| t != image_token_id) {
                return Err(ModelError::Input(format!(
                    "image at token {i} should have {n} consecutive image tokens ({}x{} merged grid)",
                    grid.merged_h, grid.merged_w
                )));
            }
            for r in 0..grid.merged_h {
                for c in 0..grid.merged_w {
                    let k = i + r * grid.merged_w + c;
                    axes[0][k] = next;
                    axes[1][k] = next + r as i64;
                    axes[2][k] = next + c as i64;
                }
            }
            next += grid.merged_h.max(grid.merged_w) as i64;
            i += n;
        }
        for (o, a) in out.iter_mut().zip(axes) {
            o.push(a);
        }
    }
    if grids.next().is_some() {
        return Err(ModelError::Input("more images than image token runs".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec section 6.2: image + "A dog." with a 64x96 image (grid 4x6 -> 2x3 merged tokens);
    /// `<|vision_start|>` at index 14, 31 tokens in total.
    #[test]
    fn matches_the_reference_worked_example() {
        let img = 151655;
        let mut ids: Vec<u32> = (0..15).map(|i| 1000 + i).collect();
        ids.extend([img; 6]);
        ids.extend((0..10).map(|i| 2000 + i));
        let grids = [MergedGrid { merged_h: 2, merged_w: 3 }];
        let [t, h, w] = mrope_position_ids(&[&ids], 31, &grids, img).unwrap();
        let mut exp_t: Vec<i64> = (0..15).collect();
        exp_t.extend([15; 6]);
        exp_t.extend(18..28);
        let mut exp_h: Vec<i64> = (0..15).collect();
        exp_h.extend([15, 15, 15, 16, 16, 16]);
        exp_h.extend(18..28);
        let mut exp_w: Vec<i64> = (0..15).collect();
        exp_w.extend([15, 16, 17, 15, 16, 17]);
        exp_w.extend(18..28);
        assert_eq!((t[0].clone(), h[0].clone(), w[0].clone()), (exp_t, exp_h, exp_w));
    }

    #[test]
    fn text_rows_count_up_and_pads_get_one() {
        let [t, h, w] = mrope_position_ids(&[&[5, 6, 7], &[5]], 3, &[], 151655).unwrap();
        assert_eq!(t, vec![vec![0, 1, 2], vec![0, 1, 1]]);
        assert_eq!(t, h);
        assert_eq!(h, w);
    }

    #[test]
    fn image_token_count_must_match_the_grid() {
        let ids = [1, 9, 9, 9, 2];
        let err = mrope_position_ids(&[&ids], 5, &[MergedGrid { merged_h: 2, merged_w: 2 }], 9).unwrap_err();
        assert!(err.to_string().contains("4 consecutive image tokens"), "{err}");
        let err = mrope_position_ids(&[&ids], 5, &[], 9).unwrap_err();
        assert!(err.to_string().contains("more image token runs"), "{err}");
    }
}
