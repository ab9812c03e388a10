//! Parsers for flag values that clap checks before anything runs, so a bad value is a usage
//! error (exit 2) at once, not a failure after the model has loaded.

/// A count or dimension of at least 1 (`--dim`, `--batch-size`, `--top-k`).
pub fn positive(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (expected a whole number of at least 1)")),
    }
}

#[cfg(test)]
mod tests {
    use super::positive;

    #[test]
    fn zero_negative_and_junk_are_refused() {
        assert_eq!(positive("3"), Ok(3));
        for bad in ["0", "-1", "x", "", "1.5"] {
            assert!(positive(bad).is_err(), "{bad:?}");
        }
    }
}
