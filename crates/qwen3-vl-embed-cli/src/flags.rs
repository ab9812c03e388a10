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

/// A library's embedding dimension (`index --dim`): at least `demo_retriever::MIN_DIM`, the
/// seed's minimum (the model's width is checked once the model is known).
pub fn library_dim(value: &str) -> Result<usize, String> {
    let dim = positive(value)?;
    if dim < demo_retriever::MIN_DIM {
        return Err(format!("must be at least {} (shorter embeddings lose too much)", demo_retriever::MIN_DIM));
    }
    Ok(dim)
}

/// A search strategy (`index --strategy`): `auto`, `exact` or `hnsw`.
pub fn strategy(value: &str) -> Result<demo_retriever::Strategy, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(demo_retriever::Strategy::Auto),
        "exact" => Ok(demo_retriever::Strategy::Exact),
        "hnsw" => Ok(demo_retriever::Strategy::Hnsw),
        other => Err(format!("{other:?}: expected auto, exact or hnsw")),
    }
}

/// A context bonus: a finite number (`--app-bonus`, `--domain-bonus`); negative values are
/// allowed and demote the context's demos.
pub fn bonus(value: &str) -> Result<f32, String> {
    match value.trim().parse::<f32>() {
        Ok(b) if b.is_finite() => Ok(b),
        Ok(_) => Err("must be a finite number".into()),
        Err(e) => Err(format!("{e} (expected a number such as 0.1)")),
    }
}

#[cfg(test)]
mod tests {
    use super::{bonus, library_dim, positive};

    #[test]
    fn library_dims_start_at_the_seeds_minimum() {
        assert_eq!(library_dim("64"), Ok(64));
        assert_eq!(library_dim("2048"), Ok(2048));
        for bad in ["63", "1", "0", "x"] {
            assert!(library_dim(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bonuses_are_finite_numbers() {
        assert_eq!(bonus(" 0.25"), Ok(0.25));
        assert_eq!(bonus("-1"), Ok(-1.0));
        for bad in ["nan", "inf", "x", ""] {
            assert!(bonus(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn zero_negative_and_junk_are_refused() {
        assert_eq!(positive("3"), Ok(3));
        for bad in ["0", "-1", "x", "", "1.5"] {
            assert!(positive(bad).is_err(), "{bad:?}");
        }
    }
}
