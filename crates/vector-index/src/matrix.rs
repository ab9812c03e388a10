//! Row-major storage for fixed-dimension vectors.

use std::sync::Arc;

use crate::store::Store;

/// A row-major `[rows, dim]` matrix of f32: one block, in memory or mapped from a file, plus
/// optionally rows kept apart at given positions ("holes").
///
/// The holes exist so that an opened index whose graph still routes through removed rows can
/// view its live rows (`embeddings.npy`) in place: graph node `i` is row `i`, and the removed
/// rows, which `hnsw.bin` carries, sit between them. Copying every row into one block instead
/// took most of the 0.6 s of opening a 100k x 2048 index with 10% removed (`benches/index`).
#[derive(Clone, Default)]
pub(crate) struct Matrix {
    dim: usize,
    data: Store<f32>,
    holes: Option<Arc<Holes>>,
}

/// Rows stored apart from the block, at ascending positions.
struct Holes {
    positions: Vec<usize>,
    data: Vec<f32>,
}

impl Matrix {
    pub(crate) fn new(dim: usize) -> Self {
        Self { dim, data: Store::default(), holes: None }
    }

    /// Wraps `data`, whose length must be a multiple of `dim`.
    pub(crate) fn from_vec(dim: usize, data: Vec<f32>) -> Self {
        Self::from_store(dim, Store::Owned(data))
    }

    /// Wraps `data` (owned or mapped), whose length must be a multiple of `dim`.
    pub(crate) fn from_store(dim: usize, data: Store<f32>) -> Self {
        assert!(dim > 0 && data.as_slice().len().is_multiple_of(dim), "matrix data is not a whole number of rows");
        Self { dim, data, holes: None }
    }

    /// The rows of `data` with `hole_data`'s rows inserted so that they end up at
    /// `positions` (strictly ascending, each below the total row count: the caller checks).
    pub(crate) fn with_holes(dim: usize, data: Store<f32>, positions: Vec<usize>, hole_data: Vec<f32>) -> Self {
        let mut m = Self::from_store(dim, data);
        assert_eq!(hole_data.len(), positions.len() * dim, "one row per hole");
        debug_assert!(positions.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(positions.last().is_none_or(|p| *p < m.rows() + positions.len()));
        if !positions.is_empty() {
            m.holes = Some(Arc::new(Holes { positions, data: hole_data }));
        }
        m
    }

    /// Whether the block is a view into a mapped file.
    pub(crate) fn is_mapped(&self) -> bool {
        self.data.is_mapped()
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    pub(crate) fn rows(&self) -> usize {
        self.data.as_slice().len() / self.dim + self.holes.as_ref().map_or(0, |h| h.positions.len())
    }

    #[inline]
    pub(crate) fn row(&self, i: usize) -> &[f32] {
        let d = self.dim;
        match &self.holes {
            None => &self.data.as_slice()[i * d..(i + 1) * d],
            Some(h) => match h.positions.binary_search(&i) {
                Ok(k) => &h.data[k * d..(k + 1) * d],
                Err(k) => &self.data.as_slice()[(i - k) * d..(i - k + 1) * d],
            },
        }
    }

    /// Appends a row (a mapped block is copied into memory first). It lands after every row,
    /// holes included.
    pub(crate) fn push(&mut self, row: &[f32]) {
        debug_assert_eq!(row.len(), self.dim);
        self.data.to_mut().extend_from_slice(row);
    }

    /// The rows in order as runs of contiguous storage: `(first row, rows)`. One run without
    /// holes; otherwise the block's stretches between holes and each hole on its own.
    pub(crate) fn runs(&self) -> Vec<(usize, &[f32])> {
        let (d, block) = (self.dim, self.data.as_slice());
        let Some(h) = &self.holes else { return vec![(0, block)] };
        let mut runs = Vec::with_capacity(2 * h.positions.len() + 1);
        let (mut row, mut taken) = (0, 0); // next row; block rows used so far
        for (k, &pos) in h.positions.iter().enumerate() {
            if pos > row {
                runs.push((row, &block[taken * d..(taken + pos - row) * d]));
                taken += pos - row;
            }
            runs.push((pos, &h.data[k * d..(k + 1) * d]));
            row = pos + 1;
        }
        if taken * d < block.len() {
            runs.push((row, &block[taken * d..]));
        }
        runs
    }

    /// The block alone (the rows that are not holes, in order): what `embeddings.npy` holds.
    pub(crate) fn block(&self) -> &[f32] {
        self.data.as_slice()
    }
}

pub(crate) struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Scored>>,
}

/// A scored row, ordered by score, then by lower row (so a max-heap pops the best first).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored {
    pub(crate) score: f32,
    pub(crate) row: u32,
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score.total_cmp(&other.score).then(other.row.cmp(&self.row))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Scored {}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        Self { k, heap: std::collections::BinaryHeap::with_capacity(k + 1) }
    }

    /// Whether `(score, row)` would enter the list: a cheap test before running a predicate.
    #[inline]
    pub(crate) fn admits(&self, score: f32, row: u32) -> bool {
        match self.heap.peek() {
            _ if self.heap.len() < self.k => true,
            Some(worst) => Scored { score, row } > worst.0,
            None => false, // k == 0
        }
    }

    /// The worst kept pair (the next to go), if any.
    pub(crate) fn worst(&self) -> Option<Scored> {
        self.heap.peek().map(|w| w.0)
    }

    /// Adds a candidate that `admits` accepted.
    pub(crate) fn push(&mut self, score: f32, row: u32) {
        if self.heap.len() == self.k {
            self.heap.pop();
        }
        self.heap.push(std::cmp::Reverse(Scored { score, row }));
    }

    /// The kept pairs, best first.
    pub(crate) fn into_sorted(self) -> Vec<(u32, f32)> {
        // `into_sorted_vec` of `Reverse` items is ascending in `Reverse`, i.e. best first.
        self.heap.into_sorted_vec().into_iter().map(|r| (r.0.row, r.0.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_best_and_breaks_ties_by_row() {
        let mut top = TopK::new(3);
        for (row, score) in [(0, 0.1), (1, 0.9), (2, 0.5), (3, 0.9), (4, 0.2), (5, 0.7)] {
            if top.admits(score, row) {
                top.push(score, row);
            }
        }
        assert_eq!(top.into_sorted(), vec![(1, 0.9), (3, 0.9), (5, 0.7)]);
        assert!(!TopK::new(0).admits(1.0, 0));
    }

    /// A matrix with holes reads, runs and grows exactly like one contiguous block holding
    /// the same rows in the same order (holes first, in the middle, adjacent, last).
    #[test]
    fn holes_read_like_the_contiguous_rows() {
        let dim = 2;
        let row = |i: usize| [i as f32, -(i as f32)];
        for holes in [vec![], vec![0], vec![2, 3], vec![1, 4, 6], vec![0, 1, 2, 3, 4, 5, 6]] {
            let total = 7;
            let block: Vec<f32> = (0..total).filter(|i| !holes.contains(i)).flat_map(row).collect();
            let hole_data: Vec<f32> = holes.iter().flat_map(|&i| row(i)).collect();
            let mut m = Matrix::with_holes(dim, Store::Owned(block), holes.clone(), hole_data);
            let mut plain = Matrix::from_vec(dim, (0..total).flat_map(row).collect());
            m.push(&row(total));
            plain.push(&row(total));
            assert_eq!(m.rows(), plain.rows());
            for i in 0..m.rows() {
                assert_eq!(m.row(i), plain.row(i), "holes {holes:?}, row {i}");
            }
            let flat: Vec<(usize, f32)> = m
                .runs()
                .into_iter()
                .flat_map(|(first, rows)| rows.chunks_exact(dim).enumerate().map(move |(k, r)| (first + k, r[0])))
                .collect();
            assert_eq!(flat, (0..=total).map(|i| (i, i as f32)).collect::<Vec<_>>(), "holes {holes:?}");
        }
    }
}
