//! [`FieldEquals`]: the one metadata condition the front ends expose (`--filter app=Safari` in
//! the CLI, `index.search(q, k, { app: 'Safari' })` in npm), for [`crate::Index::search_filtered`].

use serde_json::Value;

/// "Top-level metadata field `key` equals `value`": strings compare ignoring ASCII case, other
/// JSON values exactly; when the field holds an array, one of its elements must equal `value`.
/// An item without the field never matches.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldEquals {
    /// The top-level metadata key.
    pub key: String,
    /// The value the field (or one element of it) must equal.
    pub value: Value,
}

impl FieldEquals {
    /// The condition `key == value`.
    pub fn new(key: impl Into<String>, value: impl Into<Value>) -> Self {
        Self { key: key.into(), value: value.into() }
    }

    /// Whether `metadata` meets the condition.
    pub fn matches(&self, metadata: &Value) -> bool {
        match metadata.get(&self.key) {
            Some(Value::Array(items)) => items.iter().any(|v| self.equals(v)),
            Some(v) => self.equals(v),
            None => false,
        }
    }

    /// Whether every condition holds (true for none).
    pub fn all_match(conditions: &[FieldEquals], metadata: &Value) -> bool {
        conditions.iter().all(|c| c.matches(metadata))
    }

    fn equals(&self, v: &Value) -> bool {
        match (v, &self.value) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_ignore_ascii_case_arrays_need_one_element_missing_fields_never_match() {
        let m = json!({"app": "Safari", "tags": ["Mail", "web"], "n": 3, "none": null});
        assert!(FieldEquals::new("app", "safari").matches(&m));
        assert!(!FieldEquals::new("app", "Chrome").matches(&m));
        assert!(FieldEquals::new("tags", "mail").matches(&m));
        assert!(FieldEquals::new("n", 3).matches(&m));
        assert!(!FieldEquals::new("n", "3").matches(&m));
        assert!(!FieldEquals::new("missing", "x").matches(&m));
        assert!(!FieldEquals::new("none", "x").matches(&m));
        assert!(FieldEquals::all_match(&[], &m));
        assert!(!FieldEquals::all_match(&[FieldEquals::new("app", "safari"), FieldEquals::new("n", 4)], &m));
    }
}
