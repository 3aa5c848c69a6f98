//! What the quality rules see of a customer record (see `crate::quality`).

use crate::quality::{ContactFacts, Facts};

use super::record::{OptionalText, Record};

/// The facts of a record last changed at `updated_at`; `in_group`: the customer is in an
/// open duplicate group.
pub(crate) fn quality_facts(rec: &Record, updated_at: i64, in_group: bool) -> Facts {
    let mut values = std::collections::BTreeMap::new();
    macro_rules! put {
        ($($f:ident),*) => {
            $( if let Some(v) = rec.$f.text().map(str::trim).filter(|v| !v.is_empty()) {
                values.insert(stringify!($f), v.to_string());
            } )*
        };
    }
    with_optional_text_fields!(put);
    if rec.registered_capital.is_some() {
        values.insert("registered_capital", String::new());
    }
    Facts {
        customer_type: rec.customer_type.clone(),
        name: rec.name.clone(),
        values,
        contacts: rec
            .contacts
            .iter()
            .map(|c| ContactFacts {
                mobile: c.mobile.clone().filter(|v| !v.trim().is_empty()),
                phone: c.phone.clone().filter(|v| !v.trim().is_empty()),
                email: c.email.clone().filter(|v| !v.trim().is_empty()),
                is_primary: c.is_primary,
            })
            .collect(),
        custom: rec
            .custom
            .iter()
            .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
            .map(|(k, _)| k.clone())
            .collect(),
        updated_at,
        in_open_duplicate_group: in_group,
    }
}
