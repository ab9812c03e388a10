//! The graph's stored form (the part of `hnsw.bin` after the header `persist` writes), read
//! back without trusting it: every length, level and link is checked before use, so a hostile
//! file gives an error, not a panic or a huge allocation.
//!
//! ```text
//! u32 M | u64 nodes | u64 entry (u64::MAX when empty) | nodes x u8 level
//! | nodes x 2M u32 layer-0 slots | per node, level x M u32 upper slots (layer 1 first)
//! ```
//! Slots hold a node number or `u32::MAX` (unused). All little-endian.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::{Graph, HnswParams, INVALID, M, MAX_LEVEL};
use crate::matrix::Matrix;
use crate::quant::{Codes, Scorer};

impl Graph {
    /// The stored form (see the module docs).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let upper: usize = self.upper.iter().map(|u| u.len()).sum();
        let mut out = Vec::with_capacity(20 + self.len() + 4 * (self.zero.len() + upper));
        out.extend_from_slice(&(M as u32).to_le_bytes());
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        let entry = if self.entry == INVALID { u64::MAX } else { u64::from(self.entry) };
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&self.levels);
        for slot in self.zero.iter().chain(self.upper.iter().flat_map(|u| u.iter())) {
            out.extend_from_slice(&slot.load(Relaxed).to_le_bytes());
        }
        out
    }

    /// Decodes a graph over every row of `rows`, checking its structure: `M` is ours, levels are
    /// in range, the entry is a node of the top level, and every link on layer `l` names a node
    /// that is on layer `l` (so a walk can never index past a node's slots). `codes` are the
    /// rows' int8 codes from `codes.bin` (one per row); without them they are derived.
    pub(crate) fn decode(
        bytes: &[u8],
        rows: &Matrix,
        params: HnswParams,
        codes: Option<Codes>,
    ) -> Result<Self, String> {
        let n = rows.rows();
        if codes.as_ref().is_some_and(|c| c.len() != n) {
            return Err(format!("codes file does not have one vector per row ({n} rows)"));
        }
        let mut r = Reader { bytes, pos: 0 };
        let m = r.u32()?;
        if m as usize != M {
            return Err(format!("graph has M = {m}, this build uses {M}"));
        }
        if r.u64()? != n as u64 {
            return Err(format!("graph does not have one node per row ({n} rows)"));
        }
        let entry = r.u64()?;
        let levels = r.take(n)?.to_vec();
        if let Some(l) = levels.iter().find(|l| **l as usize > MAX_LEVEL) {
            return Err(format!("node level {l} is out of range"));
        }
        let top = levels.iter().copied().max();
        let entry = match (entry, top) {
            (u64::MAX, None) => INVALID,
            (e, Some(top)) if e < n as u64 && levels[e as usize] == top => e as u32,
            _ => return Err(format!("entry point {entry} is not a node of the highest level")),
        };
        let upper_slots: usize = levels.iter().map(|l| *l as usize * M).sum();
        if bytes.len() - r.pos != 4 * (n * 2 * M + upper_slots) {
            return Err("graph links have the wrong length".into());
        }
        // Layer 0 is nearly all of the links (every node is on it, so a link there only has to
        // name a node): one tight pass that converts and checks, instead of `link` per slot,
        // which was the largest part of `Index::open`'s time.
        let mut beyond = false;
        let zero: Vec<AtomicU32> = r
            .take(4 * n * 2 * M)?
            .chunks_exact(4)
            .map(|c| {
                let l = u32::from_le_bytes(c.try_into().expect("4 bytes"));
                beyond |= l != INVALID && l as usize >= n;
                AtomicU32::new(l)
            })
            .collect();
        if beyond {
            let l = zero.iter().map(|l| l.load(Relaxed)).find(|l| *l != INVALID && *l as usize >= n);
            return Err(format!("link to node {}, which is not on layer 0", l.unwrap_or_default()));
        }
        let mut link = |layer: usize| -> Result<AtomicU32, String> {
            let l = r.u32()?;
            if l != INVALID && levels.get(l as usize).is_none_or(|level| (*level as usize) < layer) {
                return Err(format!("link to node {l}, which is not on layer {layer}"));
            }
            Ok(AtomicU32::new(l))
        };
        let upper = levels
            .iter()
            .map(|level| (0..*level as usize * M).map(|i| link(1 + i / M)).collect::<Result<Box<[_]>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            params,
            levels,
            zero,
            upper,
            entry,
            locks: (0..n).map(|_| Mutex::new(())).collect(),
            codes: codes.unwrap_or_else(|| Codes::new(rows.dim(), (0..n).map(|i| rows.row(i)))),
            scorer: Scorer::detect(),
            searches: Mutex::new(Vec::new()),
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(len).filter(|e| *e <= self.bytes.len()).ok_or("graph is truncated")?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}
