//! Typed errors. Messages say what was expected and what was found.

use std::fmt;

/// Everything that can go wrong in this crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A buffer's length does not match the shape it was given with.
    Shape {
        /// Which buffer: "x", "y" or "weight".
        what: &'static str,
        /// The length the shape implies.
        expected: usize,
        /// The buffer's actual length.
        found: usize,
    },
    /// A stored value lies outside the range the kernels accept.
    Value {
        /// Which values, e.g. "int8 weight values".
        what: &'static str,
        /// The accepted range.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A kernel was asked for (by name or through the environment) that this CPU cannot run.
    Unsupported {
        /// The kernel's name, e.g. "avx512bf16".
        kernel: &'static str,
        /// The CPU features it needs.
        needs: &'static str,
    },
    /// The environment variable holds a value that names no kernel level.
    BadEnv {
        /// The variable's value.
        value: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape { what, expected, found } => {
                write!(f, "{what} has {found} elements, the shape implies {expected}")
            }
            Error::Value { what, expected, found } => write!(f, "{what} must lie in {expected}, found {found}"),
            Error::Unsupported { kernel, needs } => {
                write!(f, "CPU kernel {kernel:?} needs {needs}, which this CPU does not have")
            }
            Error::BadEnv { value } => write!(
                f,
                "{}={value:?} names no kernel level; expected one of {}",
                crate::select::ENV_VAR,
                crate::select::LEVEL_NAMES
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Checks that a buffer holds exactly `rows · cols` elements. The product is checked, so a
/// shape too large for memory is an error rather than a wrapped length that might match.
pub(crate) fn check_len(what: &'static str, rows: usize, cols: usize, found: usize) -> Result<(), Error> {
    match rows.checked_mul(cols) {
        Some(expected) if expected == found => Ok(()),
        expected => Err(Error::Shape { what, expected: expected.unwrap_or(usize::MAX), found }),
    }
}

/// The checks every matmul starts with: `x` is `[m, k]` and `y` is `[m, n]`.
pub(crate) fn check_matmul(x: &[f32], y: &[f32], m: usize, k: usize, n: usize) -> Result<(), Error> {
    check_len("x", m, k, x.len())?;
    check_len("y", m, n, y.len())
}
