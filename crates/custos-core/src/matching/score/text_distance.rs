//! String distances used by the field comparisons: one edit apart, bigram overlap.

/// Whether `a` becomes `b` with at most one insertion, deletion, substitution or
/// transposition of adjacent characters.
pub(super) fn within_one_edit(a: &str, b: &str) -> bool {
    // Phones, ids and e-mails are ASCII: compare bytes without collecting characters.
    if a.is_ascii() && b.is_ascii() {
        return one_edit_apart(a.as_bytes(), b.as_bytes());
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    one_edit_apart(&a, &b)
}

/// Equal, or one substitution, insertion, deletion or swap of neighbours apart.
pub(super) fn one_edit_apart<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if prefix == la && prefix == lb {
        return true;
    }
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match la.cmp(&lb) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
    }
}

/// Sørensen–Dice coefficient of the character bigrams of two strings.
pub(super) fn bigram_dice(a: &str, b: &str) -> f64 {
    fn grams(s: &str) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::with_capacity(s.len());
        let mut prev: Option<char> = None;
        for c in s.chars() {
            if let Some(p) = prev {
                out.push(((p as u64) << 32) | c as u64);
            }
            prev = Some(c);
        }
        out.sort_unstable();
        out
    }
    let (x, y) = (grams(a), grams(b));
    if x.is_empty() || y.is_empty() {
        return if a == b { 1.0 } else { 0.0 };
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    2.0 * shared as f64 / (x.len() + y.len()) as f64
}
