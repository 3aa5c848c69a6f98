//! The code drawn for a new customer, and what drawing one needs: the issue date in the
//! code time zone and random segment text.

use chrono::NaiveDate;

use custos_core::code_rule;

/// The code drawn for a new customer.
#[derive(Debug, Clone)]
pub struct DrawnCode {
    pub code: String,
    pub rule_key: String,
    pub rule_version: i64,
    pub scope: Option<String>,
    pub seq: Option<i64>,
    pub manual: bool,
}

/// The issue date in the configured time zone.
pub(crate) fn issue_date(tz: chrono_tz::Tz) -> NaiveDate {
    chrono::Utc::now().with_timezone(&tz).date_naive()
}

pub(super) fn random_text(width: u8) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; code_rule::crockford_bytes_needed(width)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    code_rule::crockford_from_bytes(width, &bytes)
}
