//! Row-major storage for fixed-dimension vectors.

use crate::store::Store;

/// A contiguous row-major `[rows, dim]` matrix of f32, in memory or mapped from a file.
#[derive(Clone, Default)]
pub(crate) struct Matrix {
    dim: usize,
    data: Store<f32>,
}

impl Matrix {
    pub(crate) fn new(dim: usize) -> Self {
        Self { dim, data: Store::default() }
    }

    /// Wraps `data`, whose length must be a multiple of `dim`.
    pub(crate) fn from_vec(dim: usize, data: Vec<f32>) -> Self {
        Self::from_store(dim, Store::Owned(data))
    }

    /// Wraps `data` (owned or mapped), whose length must be a multiple of `dim`.
    pub(crate) fn from_store(dim: usize, data: Store<f32>) -> Self {
        assert!(dim > 0 && data.as_slice().len().is_multiple_of(dim), "matrix data is not a whole number of rows");
        Self { dim, data }
    }

    /// Whether the rows are a view into a mapped file.
    pub(crate) fn is_mapped(&self) -> bool {
        self.data.is_mapped()
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    pub(crate) fn rows(&self) -> usize {
        self.data.as_slice().len() / self.dim
    }

    #[inline]
    pub(crate) fn row(&self, i: usize) -> &[f32] {
        &self.data.as_slice()[i * self.dim..(i + 1) * self.dim]
    }

    /// Appends a row (a mapped matrix is copied into memory first).
    pub(crate) fn push(&mut self, row: &[f32]) {
        debug_assert_eq!(row.len(), self.dim);
        self.data.to_mut().extend_from_slice(row);
    }

    pub(crate) fn as_slice(&self) -> &[f32] {
        self.data.as_slice()
    }
}

/// The `k` best `(score, row)` pairs seen so far; higher score wins, then lower row.
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
}
