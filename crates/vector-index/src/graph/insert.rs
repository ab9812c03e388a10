//! Adding nodes to the graph: level draw, the insertion walk, hnswlib's neighbour heuristic,
//! bidirectional linking with pruning, and the bulk (parallel natively) insert.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::{Graph, INVALID, M, MAX_LEVEL, SearchState, rerank, used};

/// Nodes a graph must hold before a bulk insert goes parallel (see [`Graph::extend`]).
const SERIAL_START: usize = 1024;
use crate::kernel::dot;
use crate::matrix::Matrix;
use crate::quant::Query;

impl Graph {
    /// Adds rows `self.len()..rows.rows()` of `rows` as nodes: one at a time on wasm32 or for a
    /// single row, in parallel (rayon) otherwise. A parallel insert ends with the reachability
    /// repair (`repair.rs`), so afterwards every node is reachable from the entry point.
    pub(crate) fn extend(&mut self, rows: &Matrix) {
        if self.insert_rows(rows) {
            self.repair(rows);
        }
    }

    /// The inserts of [`Graph::extend`], without the repair; whether some ran in parallel.
    ///
    /// Storage for every new node (link slots, lock, codes) is allocated first, so the inserts
    /// themselves only need `&self`. The entry point never moves during the parallel phase:
    /// the new node of the highest level, if it beats the current entry, is inserted alone
    /// first and becomes the entry; every other new node has a level no higher than it.
    pub(super) fn insert_rows(&mut self, rows: &Matrix) -> bool {
        let (start, end) = (self.len(), rows.rows());
        if start >= end {
            return false;
        }
        for node in start..end {
            let level = level_of(self.params.seed, node as u32);
            self.levels.push(level as u8);
            self.zero.extend((0..2 * M).map(|_| AtomicU32::new(INVALID)));
            self.upper.push((0..level * M).map(|_| AtomicU32::new(INVALID)).collect());
            self.locks.push(Mutex::new(()));
            self.codes.push(rows.row(node));
        }
        let highest = (start..end).max_by_key(|n| (self.levels[*n], std::cmp::Reverse(*n))).expect("non-empty") as u32;
        let mut state = SearchState::default();
        let ahead = self.entry == INVALID || self.levels[highest as usize] as usize > self.top();
        if ahead {
            self.insert(rows, highest, &mut state);
            self.entry = highest;
        }
        let rest: Vec<u32> = (start as u32..end as u32).filter(|n| !ahead || *n != highest).collect();
        // The first nodes go in one at a time: while the graph is tiny, parallel inserts would
        // each see it nearly empty and link only to the entry point (whose list later prunes
        // them away, leaving them unreachable). A single node needs no thread pool either.
        let linked = start + usize::from(ahead);
        let mut serial = SERIAL_START.saturating_sub(linked).min(rest.len());
        if rest.len() - serial < 2 || cfg!(target_family = "wasm") {
            serial = rest.len();
        }
        for &node in &rest[..serial] {
            self.insert(rows, node, &mut state);
        }
        #[cfg(not(target_family = "wasm"))]
        {
            use rayon::prelude::*;
            let this = &*self;
            rest[serial..]
                .par_iter()
                .for_each_init(SearchState::default, |state, &node| this.insert(rows, node, state));
        }
        serial < rest.len()
    }

    /// Links `node` (whose storage exists) into the graph: greedy descent to its level, then on
    /// each layer a beam of `ef_construction`, neighbour selection, and links both ways.
    fn insert(&self, rows: &Matrix, node: u32, state: &mut SearchState) {
        if self.entry == INVALID {
            return; // the first node: nothing to link to
        }
        let vector = rows.row(node as usize);
        let q = Query::new(vector, self.codes.lines());
        let level = self.levels[node as usize] as usize;
        let mut cur = self.score(&q, self.entry);
        for layer in (level + 1..=self.top()).rev() {
            cur = self.greedy(&q, cur, layer);
        }
        for layer in (0..=level.min(self.top())).rev() {
            let walk = state.beam(self, &q, cur, layer, self.params.ef_construction, |n| n != node, usize::MAX);
            let candidates = rerank(rows, vector, walk.best);
            let Some(&(nearest, _)) = candidates.first() else { continue };
            cur = self.score(&q, nearest);
            let chosen = self.select(&candidates, M);
            // During a parallel insert another thread may already have linked to this node on
            // this layer (it became reachable on the layer above); writing the own list
            // replaces such a link. hnswlib has the same race; it only costs an edge, and only
            // for the ~3% of nodes above layer 0.
            {
                let _own = self.locks[node as usize].lock().unwrap_or_else(|e| e.into_inner());
                write(self.slots(node, layer), &chosen);
            }
            for &neighbour in &chosen {
                self.connect(rows, neighbour, node, layer);
            }
        }
    }

    /// Adds `node` to `neighbour`'s list on `layer`; when the list is full, re-selects it from
    /// its links plus `node` with the heuristic (hnswlib's pruning).
    pub(super) fn connect(&self, rows: &Matrix, neighbour: u32, node: u32, layer: usize) {
        let _lock = self.locks[neighbour as usize].lock().unwrap_or_else(|e| e.into_inner());
        let slots = self.slots(neighbour, layer);
        let links: Vec<u32> = used(slots).collect();
        if links.contains(&node) {
            return;
        }
        if links.len() < slots.len() {
            slots[links.len()].store(node, Relaxed);
            return;
        }
        let base = rows.row(neighbour as usize);
        let mut candidates: Vec<(u32, f32)> =
            links.iter().chain([&node]).map(|&l| (l, dot(base, rows.row(l as usize)))).collect();
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let chosen = self.select(&candidates, slots.len());
        write(slots, &chosen);
    }

    /// Up to `max` of `candidates` (sorted best first by score against the base node).
    /// With the heuristic, a candidate is skipped when it is more similar to an already chosen
    /// one than to the base (it is reachable through that one), which keeps links spread over
    /// directions and clusters connected; `keep_pruned` refills with skipped ones up to `max`.
    pub(super) fn select(&self, candidates: &[(u32, f32)], max: usize) -> Vec<u32> {
        if !self.params.heuristic || candidates.len() <= max {
            return candidates.iter().take(max).map(|c| c.0).collect();
        }
        // The candidate-to-chosen similarities come from the int8 codes (a quarter of the
        // bytes, one VNNI instruction per 64 dimensions): this loop is most of the build's
        // work, and an error of ~1e-3 in a comparison only moves a borderline candidate
        // between the chosen and the skipped. Scores against the base node stay exact.
        let codes = &self.codes;
        let (mut chosen, mut skipped) = (Vec::with_capacity(max), Vec::new());
        for &(c, to_base) in candidates {
            if chosen.len() >= max {
                break;
            }
            let diverse = chosen.is_empty() || {
                let q = Query::from_code(codes.code(c as usize));
                let bound = to_base / codes.scale(c as usize);
                chosen.iter().all(|&s: &u32| {
                    self.scorer.dot(codes.code(s as usize), &q) as f32 * codes.scale(s as usize) <= bound
                })
            };
            if diverse {
                chosen.push(c);
            } else {
                skipped.push(c);
            }
        }
        if self.params.keep_pruned {
            let room = max - chosen.len();
            chosen.extend(skipped.into_iter().take(room));
        }
        chosen
    }
}

/// Stores `links` (at most `slots.len()`) and marks the remaining slots unused.
pub(super) fn write(slots: &[AtomicU32], links: &[u32]) {
    for (i, slot) in slots.iter().enumerate() {
        slot.store(links.get(i).copied().unwrap_or(INVALID), Relaxed);
    }
}

/// The level of node `node`: `floor(-ln(u) / ln(M))` with `u` uniform in `(0, 1]` drawn from
/// the seed and the node number alone, so the same rows give the same graph shape whatever the
/// insertion order or thread count, and wasm needs no entropy source.
pub(super) fn level_of(seed: u64, node: u32) -> usize {
    let mut z = seed ^ u64::from(node).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    ((-u.ln() / (M as f64).ln()) as usize).min(MAX_LEVEL)
}
