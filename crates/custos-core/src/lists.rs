//! Lists taken from requests: de-duplicated in linear time.
//!
//! A `Vec::contains` per item is quadratic: 60,000 tags once cost seconds of CPU before the
//! count limit was even looked at. Callers check the count first, then de-duplicate here.

use std::collections::HashSet;
use std::hash::Hash;

/// The items without repeats, each kept at its first occurrence, in one pass.
pub fn dedup_keep_first<T: Eq + Hash + Clone>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let items = items.into_iter();
    let mut seen = HashSet::with_capacity(items.size_hint().0);
    let mut out = Vec::with_capacity(items.size_hint().0);
    for item in items {
        if seen.insert(item.clone()) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_occurrence_order() {
        let v = dedup_keep_first(["b", "a", "b", "c", "a", "d"]);
        assert_eq!(v, ["b", "a", "c", "d"]);
        assert!(dedup_keep_first(Vec::<String>::new()).is_empty());
    }

    #[test]
    fn linear_on_many_distinct_items() {
        // Quadratic work on 200,000 items would be 2e10 comparisons (minutes); a set pass
        // is milliseconds. No clock is read: a regression shows as a hanging test.
        let items: Vec<String> = (0..200_000).map(|i| format!("tag{i}")).collect();
        let out = dedup_keep_first(items.iter().cloned().chain(items.iter().cloned()));
        assert_eq!(out, items);
    }
}
