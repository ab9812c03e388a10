//! Where each vision patch sits: its 2-D coordinates for the rotary embedding and its
//! bilinear sample of the learned position table.
//!
//! Patches arrive in 2x2 merge-window order (the preprocessor's patch order), so every
//! per-patch table here is produced in that same order.

/// Per-patch data for one batch of images, in merge-window order, images concatenated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatchLayout {
    /// (row, col) of each patch in its image's patch grid.
    pub coords: Vec<(u32, u32)>,
    /// Four rows of the position table per patch: (r0,c0), (r0,c1), (r1,c0), (r1,c1).
    pub table_rows: [Vec<u32>; 4],
    /// The matching bilinear weights, computed in f32 as the reference does.
    pub table_weights: [Vec<f32>; 4],
}

/// `torch.linspace(0, end, n)` in f32, bit for bit: the first half steps up from 0, the second
/// half steps down from `end` with a fused multiply-add, exactly as torch's CPU kernel does.
pub fn torch_linspace(end: f32, n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![0.0];
    }
    let step = end / (n - 1) as f32;
    (0..n).map(|i| if i < n / 2 { step * i as f32 } else { (-step).mul_add((n - 1 - i) as f32, end) }).collect()
}

/// Visits the patches of a `t x h x w` grid in merge-window order.
pub fn merge_window_order(t: usize, h: usize, w: usize, merge: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..t).flat_map(move |_| {
        (0..h / merge).flat_map(move |br| {
            (0..w / merge).flat_map(move |bc| {
                (0..merge).flat_map(move |r| (0..merge).map(move |c| (br * merge + r, bc * merge + c)))
            })
        })
    })
}

impl PatchLayout {
    /// Builds the layout for images with grids `[t, h, w]` (in patches) and a position
    /// table of `side x side` rows.
    pub fn new(grids: &[[usize; 3]], merge: usize, side: usize) -> Self {
        let mut layout = Self::default();
        let last = (side - 1) as f32;
        for &[t, h, w] in grids {
            let hs = torch_linspace(last, h);
            let ws = torch_linspace(last, w);
            for (row, col) in merge_window_order(t, h, w, merge) {
                layout.coords.push((row as u32, col as u32));
                let (y, x) = (hs[row], ws[col]);
                let (r0, c0) = (y as usize, x as usize);
                let (r1, c1) = ((r0 + 1).min(side - 1), (c0 + 1).min(side - 1));
                let (dh, dw) = (y - r0 as f32, x - c0 as f32);
                let rows = [r0 * side + c0, r0 * side + c1, r1 * side + c0, r1 * side + c1];
                let weights = [(1.0 - dh) * (1.0 - dw), (1.0 - dh) * dw, dh * (1.0 - dw), dh * dw];
                for k in 0..4 {
                    layout.table_rows[k].push(rows[k] as u32);
                    layout.table_weights[k].push(weights[k]);
                }
            }
        }
        layout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_torch_bits() {
        // torch.linspace(0, 47, 6) in f32: [0, 9.4, 18.8, 28.2, 37.6, 47].
        let v = torch_linspace(47.0, 6);
        assert_eq!(v[0], 0.0);
        assert_eq!(v[5], 47.0);
        assert_eq!(v[1], 9.4f32);
        // The upper half is computed downwards from the end with one rounding.
        assert_eq!(v[3], (-9.4f32).mul_add(2.0, 47.0));
        assert_eq!(torch_linspace(7.0, 1), [0.0]);
    }

    #[test]
    fn merge_window_order_visits_2x2_blocks() {
        let order: Vec<_> = merge_window_order(1, 2, 4, 2).collect();
        assert_eq!(order, [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (0, 3), (1, 2), (1, 3)]);
    }

    #[test]
    fn a_grid_equal_to_the_table_samples_rows_exactly() {
        let layout = PatchLayout::new(&[[1, 4, 4]], 2, 4);
        for (k, &(row, col)) in layout.coords.iter().enumerate() {
            let weights: Vec<f32> = (0..4).map(|i| layout.table_weights[i][k]).collect();
            assert_eq!(layout.table_rows[0][k], row * 4 + col);
            assert_eq!(weights[0], 1.0, "patch ({row},{col}) should take its own row");
            assert_eq!(weights[1..].iter().sum::<f32>(), 0.0);
        }
    }
}
