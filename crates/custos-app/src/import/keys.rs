//! Fixed hashes of a row: the keys that make two rows of one file the same customer,
//! and whether a row is sampled.

use std::hash::{Hash, Hasher};

use custos_core::normalize::{name_key, to_half_width};

use crate::customers::NewCustomer;

fn hash_key(parts: &[&str]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Keys that make two rows of one file the same customer: USCC, ID number, or the
/// normalised name of an enterprise.
pub(super) fn row_keys(input: &NewCustomer) -> Vec<u64> {
    let mut keys = Vec::new();
    let norm = |s: &str| to_half_width(s).replace(' ', "").to_uppercase();
    if let Some(u) = input.uscc.as_deref().map(norm).filter(|s| !s.is_empty()) {
        keys.push(hash_key(&["uscc", &u]));
    }
    if let Some(i) = input
        .id_number
        .as_deref()
        .map(norm)
        .filter(|s| !s.is_empty())
    {
        keys.push(hash_key(&["id", &i]));
    }
    if input.customer_type != "individual" {
        let k = name_key(&input.name).key;
        if !k.is_empty() {
            keys.push(hash_key(&["name", &input.customer_type, &k]));
        }
    }
    keys
}

/// Whether a row is in the sampling file: a fixed function of job and row, so a
/// resumed job samples the same rows.
pub(super) fn sampled(job_id: i64, row_no: i64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    let h = hash_key(&[&job_id.to_string(), &row_no.to_string()]);
    ((h % 1_000_000) as f64) < rate * 1_000_000.0
}
