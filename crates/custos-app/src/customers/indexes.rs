//! The index rows of a customer: blind indexes of personal data, tags, name grams, custom
//! values and the duplicate check's match keys.

use custos_core::normalize::{normalize_text, to_simplified};
use custos_store::customer_master::CustomerIndexes;

use super::duplicates;
use super::record::{OptionalText, Record};
use crate::pii::PiiKey;

/// Character bigrams of a name (simplified, lower case, letters and digits only): the
/// index behind name-contains and similar-name search.
pub fn name_grams(text: &str) -> Vec<String> {
    let chars: Vec<char> = to_simplified(&normalize_text(text))
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    if chars.len() == 1 {
        return vec![chars[0].to_string()];
    }
    let mut grams: Vec<String> = chars.windows(2).map(|w| w.iter().collect()).collect();
    grams.sort();
    grams.dedup();
    grams
}

/// The text a blind-index entry is made of: canonical, and e-mail case-insensitive.
pub(crate) fn blind_text(kind: &str, canonical: &str) -> String {
    if kind == "email" {
        canonical.to_lowercase()
    } else {
        canonical.to_string()
    }
}

pub(super) fn indexes_of(rec: &Record, key: &PiiKey) -> CustomerIndexes {
    let prepared = custos_core::matching::prepare(
        &duplicates::match_record(rec),
        chrono::Utc::now().date_naive(),
    );
    indexes_with(rec, key, &prepared)
}

/// [`indexes_of`] with the record's matching features already prepared.
pub(super) fn indexes_with(
    rec: &Record,
    key: &PiiKey,
    prepared: &custos_core::matching::Prepared,
) -> CustomerIndexes {
    let mut blind = Vec::new();
    let mut add = |kind: &str, v: &dyn OptionalText| {
        if let Some(v) = v.text() {
            blind.push((kind.to_string(), key.blind(kind, &blind_text(kind, v))));
        }
    };
    add("id_number", &rec.id_number);
    add("mobile", &rec.mobile);
    add("phone", &rec.phone);
    add("email", &rec.email);
    for c in &rec.contacts {
        add("mobile", &c.mobile);
        add("phone", &c.phone);
        add("email", &c.email);
    }
    blind.sort();
    blind.dedup();
    CustomerIndexes {
        blind,
        tags: rec.tags.clone(),
        grams: name_grams(&rec.name),
        fields: crate::fields::index_values(&rec.custom),
        match_keys: duplicates::hashes_of(prepared, key),
    }
}

/// The index rows of a stored customer under `key` (its values decrypted with any key
/// of the ring); `None` for a customer that has none (merged away).
pub(crate) fn stored_indexes(
    row: &custos_store::CustomerRow,
    key: &PiiKey,
) -> crate::AppResult<Option<CustomerIndexes>> {
    if !super::values::CustomerStatus::of(&row.status).is_some_and(|s| s.is_live()) {
        return Ok(None);
    }
    let rec = super::stored::record_of(row, key)?;
    Ok(Some(indexes_of(&rec, key)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn grams_of_names() {
        assert_eq!(name_grams("華為"), vec!["华为".to_string()]);
        assert_eq!(name_grams("ab c"), vec!["ab".to_string(), "bc".to_string()]);
        assert_eq!(name_grams("王"), vec!["王".to_string()]);
    }
}
