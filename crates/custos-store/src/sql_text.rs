//! Small pieces of SQL text and parameters shared by the repositories.

/// A list as the JSON array text `json_each` reads (lists of strings and integers
/// always serialise).
pub(crate) fn json_list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}
