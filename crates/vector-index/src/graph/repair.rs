//! Re-linking nodes that a parallel bulk insert left unreachable on layer 0.
//!
//! HNSW does not promise that every node can be reached from the entry point: a node's
//! in-links can all be pruned away as its neighbours' lists fill up, and during a parallel
//! insert two threads can race on a list (see `insert.rs`). A search walks layer 0 from where
//! the descent lands, so a node no layer-0 link leads to is never returned, even for its own
//! vector. The bulk insert therefore ends with this pass (natively, after its parallel phase):
//!
//! 1. A breadth-first search over layer-0 links from the entry point marks what is reachable
//!    (one pass over the `2 * M` slots of every node).
//! 2. Each unmarked node gets in-links: a beam of `ef_construction` from the entry point
//!    (so every candidate is reachable) picks neighbours with the heuristic, and each is
//!    linked back to the node with the usual pruning. If pruning dropped every one of those
//!    links, the node is forced into its nearest candidate's list in place of that list's
//!    least similar link whose target has another in-link. A BFS from the re-linked node then
//!    marks everything it made reachable (the nodes behind it need no work of their own).
//! 3. Linking back can prune another node's last in-link, so the BFS runs again, for at most
//!    [`MAX_ROUNDS`] rounds (one is the rule; a second finds nothing in practice).
//!
//! Cost: one BFS over the links plus one beam search per unreachable node, a few in 10,000
//! after a parallel build (measured in `benches/index/README.md`).

use std::sync::atomic::Ordering::Relaxed;

use super::{Graph, INVALID, SearchState, rerank, used};
use crate::kernel::dot;
use crate::matrix::Matrix;
use crate::quant::Query;

/// Rounds of BFS + re-linking before the repair gives up (it never needed a third in tests).
const MAX_ROUNDS: usize = 4;

impl Graph {
    /// Whether each node is reachable from the entry point over layer-0 links.
    pub(crate) fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        if self.entry != INVALID {
            self.mark_from(self.entry, &mut seen);
        }
        seen
    }

    /// Marks `start` and every node reachable from it on layer 0 (an iterative DFS; the order
    /// does not matter for reachability).
    fn mark_from(&self, start: u32, seen: &mut [bool]) {
        if std::mem::replace(&mut seen[start as usize], true) {
            return;
        }
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            for next in used(self.slots(node, 0)) {
                if !std::mem::replace(&mut seen[next as usize], true) {
                    stack.push(next);
                }
            }
        }
    }

    /// Makes every node reachable from the entry point on layer 0 (see the module docs).
    /// Returns how many nodes it re-linked.
    pub(crate) fn repair(&self, rows: &Matrix) -> usize {
        let mut state = SearchState::default();
        let mut relinked = 0;
        for _ in 0..MAX_ROUNDS {
            let mut seen = self.reachable();
            if seen.iter().all(|s| *s) {
                break;
            }
            let mut in_degree = vec![0u32; self.len()];
            for slot in &self.zero {
                let l = slot.load(Relaxed);
                if l != INVALID {
                    in_degree[l as usize] += 1;
                }
            }
            for node in 0..self.len() as u32 {
                if !seen[node as usize] {
                    self.relink(rows, node, &mut state, &mut in_degree, &seen);
                    relinked += 1;
                    self.mark_from(node, &mut seen);
                }
            }
        }
        relinked
    }

    /// Gives `node` in-links from nodes `seen` marks reachable, on layer 0.
    fn relink(&self, rows: &Matrix, node: u32, state: &mut SearchState, in_degree: &mut [u32], seen: &[bool]) {
        let vector = rows.row(node as usize);
        let q = Query::new(vector, self.codes.lines());
        let mut cur = self.score(&q, self.entry);
        for layer in (1..=self.top()).rev() {
            cur = self.greedy(&q, cur, layer);
        }
        // The descent can land on a node that upper-layer links reach but layer-0 links do
        // not; the beam must start from a reachable one so its candidates are reachable too.
        if !seen[cur.row as usize] {
            cur = self.score(&q, self.entry);
        }
        let walk = state.beam(self, &q, cur, 0, self.params.ef_construction, |n| n != node, usize::MAX);
        let candidates = rerank(rows, vector, walk.best);
        let chosen = self.select(&candidates, super::M);
        for &neighbour in &chosen {
            let before: Vec<u32> = used(self.slots(neighbour, 0)).collect();
            self.connect(rows, neighbour, node, 0);
            let after: Vec<u32> = used(self.slots(neighbour, 0)).collect();
            before.iter().filter(|l| !after.contains(l)).for_each(|l| in_degree[*l as usize] -= 1);
            after.iter().filter(|l| !before.contains(l)).for_each(|l| in_degree[*l as usize] += 1);
        }
        let linked = |c: u32| seen[c as usize] && used(self.slots(c, 0)).any(|l| l == node);
        if chosen.iter().any(|&c| linked(c)) {
            return;
        }
        if let Some(&(host, _)) = candidates.iter().find(|(c, _)| seen[*c as usize]) {
            self.force_link(rows, host, node, in_degree);
        }
    }

    /// Puts `node` into `host`'s layer-0 list whatever the heuristic says: in a free slot, or in
    /// place of the link least similar to `host` among those whose target has another in-link
    /// (the least similar of all if none has; a later round re-links that one).
    fn force_link(&self, rows: &Matrix, host: u32, node: u32, in_degree: &mut [u32]) {
        let _lock = self.locks[host as usize].lock().unwrap_or_else(|e| e.into_inner());
        let slots = self.slots(host, 0);
        let links: Vec<u32> = used(slots).collect();
        if links.len() < slots.len() {
            slots[links.len()].store(node, Relaxed);
            in_degree[node as usize] += 1;
            return;
        }
        let base = rows.row(host as usize);
        let similarity = |i: usize| dot(base, rows.row(links[i] as usize));
        let weakest = |spare: bool| {
            (0..links.len())
                .filter(|&i| !spare || in_degree[links[i] as usize] >= 2)
                .min_by(|&a, &b| similarity(a).total_cmp(&similarity(b)))
        };
        let Some(i) = weakest(true).or_else(|| weakest(false)) else { return };
        in_degree[links[i] as usize] -= 1;
        in_degree[node as usize] += 1;
        slots[i].store(node, Relaxed);
    }
}
