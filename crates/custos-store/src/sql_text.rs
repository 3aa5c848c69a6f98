//! Small pieces of SQL text and parameters shared by the repositories.

/// A list as the JSON array text `json_each` reads (lists of strings and integers
/// always serialise).
pub(crate) fn json_list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Placeholders `$from, $from+1, …` for `n` values.
pub(crate) fn placeholders_from(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, $2, …, $n`: one numbered parameter per column of an INSERT.
pub(crate) fn placeholders(n: usize) -> String {
    placeholders_from(1, n)
}

/// The parameters for every column of a `*_COLS` list: `"a, b, c"` → `$1, $2, $3`.
pub(crate) fn placeholders_for(cols: &str) -> String {
    placeholders(cols.split(',').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_from_one() {
        assert_eq!(placeholders(0), "");
        assert_eq!(placeholders(1), "$1");
        assert_eq!(placeholders(3), "$1, $2, $3");
        assert_eq!(placeholders_from(4, 2), "$4, $5");
        assert_eq!(placeholders_for("a, b,\n    c"), "$1, $2, $3");
    }
}
