//! The lookup rows derived from a customer: what search and the duplicate check find it by.

/// Derived lookup rows of one customer, rewritten on every change.
#[derive(Debug, Clone, Default)]
pub struct CustomerIndexes {
    /// (kind, HMAC hex) of PII values.
    pub blind: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub grams: Vec<String>,
    /// (custom field key, value) pairs.
    pub fields: Vec<(String, String)>,
    /// Keyed hashes of the duplicate-check blocking keys.
    pub match_keys: Vec<i64>,
}
