//! The one way results reach stdout. `println!` panics when stdout is a closed pipe or a full
//! disk (exit 101 and a backtrace hint); a result written here that cannot be written is an
//! ordinary failure instead ([`Failure::Stdout`], exit 1).

use std::io::Write;

use crate::failure::{CmdResult, Failure};

/// Writes `text` to stdout and flushes it, so a write error is seen here and not lost at exit.
pub fn print(text: &str) -> CmdResult {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(Failure::Stdout)
}

/// Writes one line (`text` and a newline) to stdout (see [`print`]).
pub fn print_line(text: impl std::fmt::Display) -> CmdResult {
    print(&format!("{text}\n"))
}
