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

/// `n` rounded up to a power of two (at least 4): lists bound into `IN (…)` or a
/// `UNION ALL` are padded to this length so that a handful of statement texts serve every
/// list and stay prepared in the connection's statement cache.
pub(crate) fn padded_len(n: usize) -> usize {
    n.max(4).next_power_of_two()
}

/// `ids` padded with 0 (no row has id 0) to [`padded_len`].
pub(crate) fn padded_ids(ids: &[i64]) -> Vec<i64> {
    let mut v = ids.to_vec();
    v.resize(padded_len(ids.len()), 0);
    v
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
