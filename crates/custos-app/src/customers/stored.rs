//! The stored form of a customer: the row's columns and the `data` column, personal data
//! sealed with the PII key (and the start-up check that the key is the database's).

use custos_core::normalize::name_key;
use custos_store::CustomerRow;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::record::{Contact, Ident, OptionalText, Record};
use super::values::{CustomerStatus, Scale};
use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;

/// A stored contact: personal data encrypted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StoredContact {
    id: i64,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mobile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default)]
    is_primary: bool,
}

/// The `data` column: every field without a column of its own; personal data encrypted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StoredData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    short_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    former_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    legal_representative: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    established_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registered_capital: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    /// Plain for organisations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    /// Encrypted (individuals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address_enc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mobile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    website: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credit_rating: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remarks: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    contacts: Vec<StoredContact>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    custom: Map<String, Value>,
}

fn seal(key: &PiiKey, v: &dyn OptionalText) -> Option<String> {
    v.text().map(|s| key.encrypt(s))
}

fn open_opt(key: &PiiKey, v: &Option<String>) -> AppResult<Option<String>> {
    v.as_ref().map(|s| key.decrypt(s)).transpose()
}

fn stored_data(rec: &Record, key: &PiiKey) -> String {
    let individual = rec.is_individual();
    let data = StoredData {
        short_name: rec.short_name.clone(),
        former_names: rec.former_names.clone(),
        id_number: seal(key, &rec.id_number),
        legal_representative: rec.legal_representative.clone(),
        established_on: rec.established_on.clone(),
        registered_capital: rec.registered_capital,
        scale: rec.scale.text().map(str::to_string),
        source: rec.source.clone(),
        address: if individual {
            None
        } else {
            rec.address.clone()
        },
        address_enc: if individual {
            seal(key, &rec.address)
        } else {
            None
        },
        postal_code: rec.postal_code.clone(),
        phone: seal(key, &rec.phone),
        mobile: seal(key, &rec.mobile),
        email: seal(key, &rec.email),
        website: rec.website.clone(),
        tags: rec.tags.clone(),
        credit_rating: rec.credit_rating.clone(),
        remarks: rec.remarks.clone(),
        contacts: rec
            .contacts
            .iter()
            .map(|c| StoredContact {
                id: c.id,
                name: c.name.clone(),
                title: c.title.clone(),
                mobile: seal(key, &c.mobile),
                phone: seal(key, &c.phone),
                email: seal(key, &c.email),
                is_primary: c.is_primary,
            })
            .collect(),
        custom: rec.custom.clone(),
    };
    serde_json::to_string(&data).unwrap_or_else(|_| "{}".into())
}

/// The status of a stored row; one custos never writes is damage to the database,
/// reported like unreadable data (logged, the caller sees the generic message) naming the
/// customer, the field, the value and the values allowed, so the row can be found and
/// mended.
fn status_of(row: &CustomerRow) -> AppResult<CustomerStatus> {
    CustomerStatus::of(&row.status).ok_or_else(|| {
        let allowed: Vec<&str> = CustomerStatus::ALL.iter().map(|s| s.as_str()).collect();
        // Debug-quoted: the value came from the database, not through validation.
        AppError::Internal(format!(
            "customer {}: stored field 'status' has the value {:?}, not one of {}",
            row.code,
            row.status,
            allowed.join(", ")
        ))
    })
}

pub(crate) fn record_of(row: &CustomerRow, key: &PiiKey) -> AppResult<Record> {
    let d: StoredData = serde_json::from_str(&row.data)
        .map_err(|e| AppError::Internal(format!("customer {} data unreadable: {e}", row.code)))?;
    // Stored ID numbers were checked against the day they were written; any later day
    // admits them again.
    let any_day = chrono::NaiveDate::MAX;
    let mut contacts = Vec::new();
    for c in &d.contacts {
        contacts.push(Contact {
            id: c.id,
            name: c.name.clone(),
            title: c.title.clone(),
            mobile: open_opt(key, &c.mobile)?,
            phone: open_opt(key, &c.phone)?,
            email: open_opt(key, &c.email)?,
            is_primary: c.is_primary,
        });
    }
    Ok(Record {
        customer_type: row.customer_type.clone(),
        name: row.name.clone(),
        short_name: d.short_name,
        former_names: d.former_names,
        uscc: row
            .uscc
            .clone()
            .map(|s| Ident::stored(s, custos_core::ident::Uscc::parse)),
        id_number: open_opt(key, &d.id_number)?
            .map(|s| Ident::stored(s, |v| custos_core::ident::IdNumber::parse(v, any_day))),
        legal_representative: d.legal_representative,
        established_on: d.established_on,
        registered_capital: d.registered_capital,
        industry: row.industry.clone(),
        scale: d.scale.map(|s| Ident::stored(s, str::parse::<Scale>)),
        level: row.level.clone(),
        source: d.source,
        region_code: row.region_code.clone(),
        address: match d.address_enc {
            Some(enc) => Some(key.decrypt(&enc)?),
            None => d.address,
        },
        postal_code: d.postal_code,
        phone: open_opt(key, &d.phone)?,
        mobile: open_opt(key, &d.mobile)?
            .map(|s| Ident::stored(s, custos_core::ident::Mobile::parse)),
        email: open_opt(key, &d.email)?,
        website: d.website,
        owner_id: row.owner_id,
        department_id: row.department_id,
        status: status_of(row)?,
        tags: d.tags,
        credit_rating: d.credit_rating,
        remarks: d.remarks,
        contacts,
        custom: d.custom,
    })
}

/// A new customer's row: every column from the record, personal data sealed.
pub(super) fn fresh_row(
    code: &str,
    rec: &Record,
    key: &PiiKey,
    created_by: i64,
    now: i64,
) -> CustomerRow {
    with_record(
        &CustomerRow {
            id: 0,
            code: code.to_string(),
            customer_type: String::new(),
            name: String::new(),
            name_key: String::new(),
            status: String::new(),
            uscc: None,
            region_code: None,
            industry: None,
            level: None,
            owner_id: None,
            department_id: None,
            data: String::new(),
            created_by: Some(created_by),
            created_at: now,
            updated_at: now,
            row_version: 1,
        },
        rec,
        key,
        now,
    )
}

/// `base` with every column that comes from the record replaced (id, code, creation and
/// version kept), stamped `now`.
pub(super) fn with_record(base: &CustomerRow, rec: &Record, key: &PiiKey, now: i64) -> CustomerRow {
    CustomerRow {
        customer_type: rec.customer_type.clone(),
        name: rec.name.clone(),
        name_key: name_key(&rec.name).key,
        status: rec.status.as_str().to_string(),
        uscc: rec.uscc.text().map(str::to_string),
        region_code: rec.region_code.clone(),
        industry: rec.industry.clone(),
        level: rec.level.clone(),
        owner_id: rec.owner_id,
        department_id: rec.department_id,
        data: stored_data(rec, key),
        updated_at: now,
        ..base.clone()
    }
}
