//! Metadata filters for a query (`--filter app=Safari`): conditions every returned demo must
//! meet, applied inside the index's graph walk (`vector_index::Index::search_filtered`), so `k`
//! results come back whenever `k` demos match.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use vector_index::FieldEquals;

use crate::error::RetrieverError;

/// Which stored field a [`Filter`] tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    /// `app`: the demo's app name.
    App,
    /// `domain`: the demo's web domain.
    Domain,
    /// `platform`: `macos`, `windows`, `linux`, `web`, ...
    Platform,
    /// `tag`: one of the demo's tags.
    Tag,
    /// `id`: the demo id.
    Id,
}

impl FilterField {
    /// The names `--filter` accepts, for messages.
    pub const NAMES: &'static str = "app, domain, platform, tag, id";

    /// The key of the index item's metadata (the demo summary) the field is read from.
    fn metadata_key(self) -> &'static str {
        match self {
            Self::App => "app_name",
            Self::Domain => "domain",
            Self::Platform => "platform",
            Self::Tag => "tags",
            Self::Id => "demo_id",
        }
    }
}

/// One condition: the field equals the value, ignoring ASCII case (`app=safari` matches a
/// demo recorded in `Safari`); for `tag`, one of the demo's tags equals it. A demo without the
/// field never matches. Conditions of one query must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The field tested.
    pub field: FilterField,
    /// The value it must equal (ASCII case ignored).
    pub value: String,
}

impl Filter {
    /// Whether an index item's metadata (a demo summary) meets the condition: the index's
    /// [`FieldEquals`] on the field's metadata key, so the CLI and npm filters agree.
    pub fn matches(&self, metadata: &Value) -> bool {
        FieldEquals::new(self.field.metadata_key(), self.value.as_str()).matches(metadata)
    }

    /// Whether every filter of `filters` matches (true for none).
    pub fn all_match(filters: &[Filter], metadata: &Value) -> bool {
        filters.iter().all(|f| f.matches(metadata))
    }
}

impl FromStr for Filter {
    type Err = RetrieverError;
    /// `field=value`, field one of [`FilterField::NAMES`] (case-insensitive), value non-empty.
    fn from_str(s: &str) -> Result<Self, RetrieverError> {
        let bad = |reason: &str| RetrieverError::BadFilter { filter: s.to_owned(), reason: reason.to_owned() };
        let (field, value) = s.split_once('=').ok_or_else(|| bad("expected field=value"))?;
        let field = match field.trim().to_ascii_lowercase().as_str() {
            "app" | "app_name" => FilterField::App,
            "domain" => FilterField::Domain,
            "platform" => FilterField::Platform,
            "tag" | "tags" => FilterField::Tag,
            "id" | "demo_id" => FilterField::Id,
            _ => return Err(bad(&format!("unknown field; expected one of {}", FilterField::NAMES))),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(bad("the value is empty"));
        }
        Ok(Self { field, value: value.to_owned() })
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.field {
            FilterField::App => "app",
            FilterField::Domain => "domain",
            FilterField::Platform => "platform",
            FilterField::Tag => "tag",
            FilterField::Id => "id",
        };
        write!(f, "{name}={}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_parse_and_match_case_insensitively() {
        let demo =
            json!({"demo_id": "d1", "app_name": "Safari", "domain": null, "platform": "macos", "tags": ["Mail", "x"]});
        for (filter, want) in [
            ("app=safari", true),
            ("APP = Safari ", true),
            ("app=Chrome", false),
            ("domain=example.com", false),
            ("platform=MACOS", true),
            ("tag=mail", true),
            ("tag=y", false),
            ("id=d1", true),
        ] {
            assert_eq!(filter.parse::<Filter>().unwrap().matches(&demo), want, "{filter}");
        }
        for bad in ["app", "colour=red", "app="] {
            let err = bad.parse::<Filter>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
        assert_eq!("App=Safari".parse::<Filter>().unwrap().to_string(), "app=Safari");
    }
}
