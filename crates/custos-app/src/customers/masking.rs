//! Masking of personal data (for responses, history and audit entries).

use std::sync::LazyLock;

use regex::{Captures, Regex};

use serde_json::{Map, Value};

use super::record::{is_individual_type, Contact, Draft, OptionalText, Record};
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
    pii_given(
        &rec.customer_type,
        [
            rec.id_number.text(),
            rec.phone.text(),
            rec.mobile.text(),
            rec.email.text(),
        ],
        rec.address.is_some(),
        &rec.contacts,
    )
}

/// [`has_pii`] of a record as submitted.
pub(super) fn draft_has_pii(rec: &Draft) -> bool {
    pii_given(
        &rec.customer_type,
        [
            rec.id_number.text(),
            rec.phone.text(),
            rec.mobile.text(),
            rec.email.text(),
        ],
        rec.address.is_some(),
        &rec.contacts,
    )
}

/// Personal data is given: an identifier or channel, an individual's address, or a
/// contact's channel.
fn pii_given(
    customer_type: &str,
    channels: [Option<&str>; 4],
    has_address: bool,
    contacts: &[Contact],
) -> bool {
    channels.iter().any(Option::is_some)
        || (is_individual_type(customer_type) && has_address)
        || contacts
            .iter()
            .any(|c| c.mobile.is_some() || c.phone.is_some() || c.email.is_some())
}

/// The record as JSON with personal data masked (for history and audit entries).
pub(super) fn masked_record(rec: &Record) -> Map<String, Value> {
    let ind = rec.is_individual();
    let m = |f: &str, v: &dyn OptionalText| {
        v.text()
            .map_or(Value::Null, |s| Value::String(masked(f, s, ind)))
    };
    let mut contacts = rec.contacts.clone();
    for c in &mut contacts {
        c.mobile = c.mobile.as_deref().map(mask_mobile);
        c.phone = c.phone.as_deref().map(mask_phone);
        c.email = c.email.as_deref().map(mask_email);
    }
    let Ok(Value::Object(mut r)) = serde_json::to_value(rec) else {
        return Map::new();
    };
    r.insert("id_number".into(), m("id_number", &rec.id_number));
    r.insert("mobile".into(), m("mobile", &rec.mobile));
    r.insert("phone".into(), m("phone", &rec.phone));
    r.insert("email".into(), m("email", &rec.email));
    r.insert("address".into(), m("address", &rec.address));
    r.insert(
        "contacts".into(),
        serde_json::to_value(contacts).unwrap_or_default(),
    );
    r
}

/// The mobile a list shows for a customer, always masked: its own, else its primary
/// contact's. Lists never reveal personal data (the detail page does, audited).
pub(crate) fn list_mobile(rec: &Record) -> Option<String> {
    rec.mobile
        .text()
        .or_else(|| {
            rec.contacts
                .iter()
                .find(|c| c.is_primary)
                .and_then(|c| c.mobile.as_deref())
        })
        .map(mask_mobile)
}

/// Personal data written into free text (a follow-up's content, a complaint's
/// resolution): e-mail addresses, mainland ID numbers (18 or 15 characters), mobiles
/// (also `+86`, `138-1234-5678`, `138 1234 5678`) and fixed lines with an area code. A
/// longer run of letters and digits that only contains such a number (an order number)
/// is left alone.
static FREE_TEXT_PII: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<email>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})",
        r"|(?P<id>(?-u:\b)(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?-u:\b))",
        r"|(?P<mobile>(?:\+86[ \-]?|(?-u:\b)86[ \-]?|(?-u:\b))",
        r"1[3-9][0-9](?:[0-9]{8}|-[0-9]{4}-[0-9]{4}| [0-9]{4} [0-9]{4})(?-u:\b))",
        r"|(?P<phone>(?-u:\b)0[0-9]{2,3}-[0-9]{7,8}(?-u:\b))",
    ))
    .ok()
});

/// `text` with every phone number, ID number and e-mail address in it masked the way
/// the customer's own fields are.
pub(crate) fn mask_free_text(text: &str) -> String {
    let Some(re) = FREE_TEXT_PII.as_ref() else {
        return text.to_string();
    };
    re.replace_all(text, |c: &Captures| {
        let whole = c.get(0).map_or("", |m| m.as_str());
        if c.name("email").is_some() {
            mask_email(whole)
        } else if c.name("id").is_some() {
            mask_id_number(whole)
        } else if c.name("mobile").is_some() {
            let digits: String = whole.chars().filter(char::is_ascii_digit).collect();
            mask_mobile(&digits[digits.len().saturating_sub(11)..])
        } else {
            mask_phone(whole)
        }
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::mask_free_text;

    #[test]
    fn personal_data_in_free_text_is_masked_and_other_numbers_are_not() {
        let cases = [
            ("请拨13812345678联系", "请拨138****5678联系"),
            ("电话 +86 138-1234-5678。", "电话 138****5678。"),
            ("座机010-12345678转", "座机010-****5678转"),
            ("身份证110101199003077777号", "身份证110101********7777号"),
            ("邮件 zhang.san@example.com.", "邮件 z***@example.com."),
            (
                "订单 SO20240101000123456789 金额 13812",
                "订单 SO20240101000123456789 金额 13812",
            ),
            ("13812345678,13912345678", "138****5678,139****5678"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(mask_free_text(raw), want, "{raw}");
        }
    }
}
