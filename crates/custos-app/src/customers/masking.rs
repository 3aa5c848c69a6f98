//! Masking of personal data (for responses, history and audit entries).

use super::record::Record;
use crate::pii::{mask_address, mask_email, mask_id_number, mask_mobile, mask_phone};

pub(super) fn masked(field: &str, v: &str, individual: bool) -> String {
    match field {
        "id_number" => mask_id_number(v),
        "mobile" => mask_mobile(v),
        "phone" => mask_phone(v),
        "email" => mask_email(v),
        "address" if individual => mask_address(v),
        _ => v.to_string(),
    }
}

pub(crate) fn has_pii(rec: &Record) -> bool {
    rec.id_number.is_some()
        || rec.phone.is_some()
        || rec.mobile.is_some()
        || rec.email.is_some()
        || (rec.customer_type == "individual" && rec.address.is_some())
        || rec
            .contacts
            .iter()
            .any(|c| c.mobile.is_some() || c.phone.is_some() || c.email.is_some())
}

/// The record with personal data masked (for history and audit entries).
pub(super) fn masked_record(rec: &Record) -> Record {
    let ind = rec.customer_type == "individual";
    let m = |f: &str, v: &Option<String>| v.as_deref().map(|s| masked(f, s, ind));
    let mut r = rec.clone();
    r.id_number = m("id_number", &rec.id_number);
    r.mobile = m("mobile", &rec.mobile);
    r.phone = m("phone", &rec.phone);
    r.email = m("email", &rec.email);
    r.address = m("address", &rec.address);
    for c in &mut r.contacts {
        c.mobile = c.mobile.as_deref().map(mask_mobile);
        c.phone = c.phone.as_deref().map(mask_phone);
        c.email = c.email.as_deref().map(mask_email);
    }
    r
}

/// The mobile a list shows for a customer, always masked: its own, else its primary
/// contact's. Lists never reveal personal data (the detail page does, audited).
pub(crate) fn list_mobile(rec: &Record) -> Option<String> {
    rec.mobile
        .as_deref()
        .or_else(|| {
            rec.contacts
                .iter()
                .find(|c| c.is_primary)
                .and_then(|c| c.mobile.as_deref())
        })
        .map(mask_mobile)
}
