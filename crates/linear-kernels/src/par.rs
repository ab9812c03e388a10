//! Splitting `y = x·W` over rayon's threads. The output is cut into tiles of up to
//! [`ROWS_PER_TASK`] rows by one panel of [`NR`] columns; each task owns its tiles, so tasks
//! write disjoint parts of `y` and need no locks.

use std::ops::Range;

use rayon::prelude::*;

/// Output columns per packed weight panel: two zmm (or four ymm) registers of f32.
pub(crate) const NR: usize = 32;

/// The most activation rows a micro-kernel handles at once.
pub(crate) const MAX_MR: usize = 8;

/// Rows per parallel task: a multiple of every kernel's row count (2, 4, 6, 8), large enough
/// that a task reuses its weight panel from L2 many times, small enough that M = 280 still
/// gives each thread several tasks to balance.
const ROWS_PER_TASK: usize = 48;

/// Below this many multiply-adds a product runs on the calling thread: splitting it would cost
/// more than it saves.
const SERIAL_WORK: usize = 1 << 16;

/// A micro-kernel's result: `MAX_MR` rows of one panel's `NR` columns.
pub(crate) type Tile = [[f32; NR]; MAX_MR];

/// The output pointer, shared by tasks that write disjoint tiles.
struct Out(*mut f32);

// SAFETY: tasks write disjoint (row, column) ranges of the buffer behind the pointer, and the
// buffer outlives the parallel loop (it is borrowed mutably for the whole call).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// A method (not field access), so closures capture the whole `Sync` wrapper.
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

/// Calls `kernel(rows, panel, tile)` for every group of at most `mr` rows and every panel of
/// `NR` columns, and stores each tile's valid columns into `y` (`[m, n]`, row-major).
/// `work` is m·n·k, used only to decide whether to split.
pub(crate) fn for_each_tile<F>(m: usize, n: usize, work: usize, mr: usize, y: &mut [f32], kernel: F)
where
    F: Fn(Range<usize>, usize, &mut Tile) + Sync,
{
    assert!(y.len() == m * n && (1..=MAX_MR).contains(&mr));
    let panels = n.div_ceil(NR);
    let row_tasks = m.div_ceil(ROWS_PER_TASK);
    let out = Out(y.as_mut_ptr());
    // Panel-major task order: rayon hands each thread a contiguous range of tasks, so a thread
    // sweeps all row groups of one panel while that panel is hot in its cache.
    let task = |t: usize| {
        let (panel, row_task) = (t / row_tasks, t % row_tasks);
        let rows = row_task * ROWS_PER_TASK..m.min((row_task + 1) * ROWS_PER_TASK);
        let cols = panel * NR..n.min((panel + 1) * NR);
        let mut tile = [[0.0f32; NR]; MAX_MR];
        for r0 in rows.clone().step_by(mr) {
            let group = r0..rows.end.min(r0 + mr);
            kernel(group.clone(), panel, &mut tile);
            for (i, r) in group.enumerate() {
                // SAFETY: r < m and cols lies within 0..n, so the destination lies in y; no
                // other task writes this row's columns of this panel.
                unsafe {
                    std::ptr::copy_nonoverlapping(tile[i].as_ptr(), out.ptr().add(r * n + cols.start), cols.len());
                }
            }
        }
    };
    let tasks = panels * row_tasks;
    if work < SERIAL_WORK {
        (0..tasks).for_each(task);
    } else {
        (0..tasks).into_par_iter().for_each(task);
    }
}
