//! Typed errors. Messages say what was expected and what was found.

use std::fmt;

/// Everything that can go wrong in this crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A buffer's length does not match the shape it was given with.
    Length {
        /// Which buffer: "q", "k", "v" or "out".
        what: &'static str,
        /// The length the shape implies.
        expected: usize,
        /// The buffer's actual length.
        found: usize,
    },
    /// The shape itself is unusable (a zero dimension, heads not a multiple of kv_heads).
    Shape(String),
    /// The kernel level forced through `QWEN3_VL_CPU_KERNELS` is invalid or missing here.
    Kernel(linear_kernels::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Length { what, expected, found } => {
                write!(f, "attention input {what} has {found} elements, the shape implies {expected}")
            }
            Error::Shape(why) => write!(f, "attention shape: {why}"),
            Error::Kernel(e) => write!(f, "attention kernel: {e}"),
        }
    }
}

impl std::error::Error for Error {}
