//! The customer master (客户主数据): creating a customer issues its code in the same
//! transaction; every change is validated as a whole, kept in the history with a snapshot
//! (so the record can be rebuilt `as_of` any time), and audited. Personal data is
//! encrypted at rest and masked in responses unless the caller may read it.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use custos_core::ident::{Email, IdNumber, Mobile, Phone, PostalCode, Uscc, Website};
use custos_core::normalize::{name_key, normalize_text, to_simplified};
use custos_core::{industry, region, FieldError, Violation};
use custos_store::customer_master::{CustomerIndexes, HistoryRow, NewCustomerWrite};
use custos_store::{now_us, CustomerRow, StoreError, Tx};

use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::codes::{code_row, code_taken, draw_code, issue_date};
use crate::error::{AppError, AppResult};
use crate::pii::{mask_address, mask_email, mask_id_number, mask_mobile, mask_phone, PiiKey};
use crate::{to_json, App};

/// Customer types when an administrator has configured none.
pub const DEFAULT_CUSTOMER_TYPES: &[(&str, &str, &str)] = &[
    ("enterprise", "企业客户", "Enterprise"),
    ("individual", "个人客户", "Individual"),
];

/// Allowed values of `scale` (企业规模).
pub const SCALES: &[(&str, &str, &str)] = &[
    ("micro", "微型", "Micro"),
    ("small", "小型", "Small"),
    ("medium", "中型", "Medium"),
    ("large", "大型", "Large"),
];

/// Statuses a customer can be given by create or update; archive, retire and merge are
/// operations of their own.
pub const EDITABLE_STATUSES: &[&str] = &["pending", "active", "dormant"];

/// Statuses of customers that still count for duplicate checks (all but merged ones).
pub(crate) const LIVE_STATUSES: &[&str] = &["pending", "active", "dormant", "retired", "archived"];

mod bulk;
mod lookups;
mod text_rules;
pub(crate) use lookups::Lookups;
/// Calls `$m!` with the names of the record's optional single-value fields (the ones a
/// patch, a merge or an import fills one by one), so the list is written once.
macro_rules! with_optional_fields {
    ($m:ident) => {
        $m!(
            short_name,
            uscc,
            id_number,
            legal_representative,
            established_on,
            registered_capital,
            industry,
            scale,
            level,
            source,
            region_code,
            address,
            postal_code,
            phone,
            mobile,
            email,
            website,
            credit_rating,
            remarks
        )
    };
}

mod disclosure;
pub mod duplicates;
pub mod merge;
pub mod review;

/// Fields whose change needs a reason (catalog: major fields).
pub const MAJOR_FIELDS: &[&str] = &["name", "uscc", "id_number", "customer_type"];

/// Personal-data fields of a customer (address only for individuals).
pub const PII_FIELDS: &[&str] = &["id_number", "phone", "mobile", "email", "address"];

const MAX_CONTACTS: usize = 50;
const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CustomerType {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
}

/// A contact person (联系人) as submitted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub is_primary: Option<bool>,
}

/// A new customer as submitted. Every field is validated and normalised; all failing
/// fields are reported together.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// `enterprise`, `individual` or a configured type.
    #[serde(default)]
    pub customer_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub short_name: Option<String>,
    /// 曾用名.
    #[serde(default)]
    pub former_names: Vec<String>,
    /// 统一社会信用代码.
    #[serde(default)]
    pub uscc: Option<String>,
    /// 身份证号 (individuals); encrypted at rest.
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub legal_representative: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub established_on: Option<String>,
    /// Registered capital in 10,000 CNY (万元).
    #[serde(default)]
    pub registered_capital: Option<f64>,
    /// GB/T 4754 section letter or division code.
    #[serde(default)]
    pub industry: Option<String>,
    /// micro, small, medium, large.
    #[serde(default)]
    pub scale: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    /// 客户来源.
    #[serde(default)]
    pub source: Option<String>,
    /// GB/T 2260 code; province/city/district names are derived from it.
    #[serde(default)]
    pub region_code: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    /// Owner (负责人) user id; defaults to the creator.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// Department; defaults to the owner's.
    #[serde(default)]
    pub department_id: Option<i64>,
    /// pending, active (default) or dormant.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub credit_rating: Option<String>,
    #[serde(default)]
    pub remarks: Option<String>,
    #[serde(default)]
    pub contacts: Vec<ContactInput>,
    /// Values of admin-defined fields, by key.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
    /// A code assigned by hand (`code.assign`); must fit the applicable rule and be unused.
    #[serde(default)]
    pub code: Option<String>,
    /// Why (kept in the audit log and the code registry).
    #[serde(default)]
    pub reason: Option<String>,
    /// Create even though it looks like an existing customer (`duplicate.manage`, with
    /// a `reason`; the overridden candidates are audited).
    #[serde(default)]
    pub override_duplicates: bool,
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A change to a customer: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// The `version` read last (optimistic locking): a stale one answers 409.
    pub version: i64,
    /// Save even though the changed record looks like another customer
    /// (`duplicate.manage`, with a `reason`).
    #[serde(default)]
    pub override_duplicates: bool,
    /// Required when a major field (name, uscc, id_number, customer_type) changes.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub customer_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub short_name: Option<Option<String>>,
    #[serde(default)]
    pub former_names: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub uscc: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub id_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub legal_representative: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub established_on: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub registered_capital: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub industry: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub scale: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub level: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub region_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub postal_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    #[serde(default)]
    pub owner_id: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub department_id: Option<Option<i64>>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub credit_rating: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub remarks: Option<Option<String>>,
    /// Replaces all contacts.
    #[serde(default)]
    pub contacts: Option<Vec<ContactInput>>,
    /// Custom values to set (`null` removes one).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<Map<String, Value>>,
}

/// A change to one contact: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default)]
    pub is_primary: Option<bool>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A contact in plaintext (in memory only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Contact {
    id: i64,
    name: String,
    title: Option<String>,
    mobile: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    is_primary: bool,
}

/// The whole customer in plaintext: what validation works on. Never stored as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Record {
    customer_type: String,
    name: String,
    short_name: Option<String>,
    former_names: Vec<String>,
    uscc: Option<String>,
    id_number: Option<String>,
    legal_representative: Option<String>,
    established_on: Option<String>,
    registered_capital: Option<f64>,
    industry: Option<String>,
    scale: Option<String>,
    level: Option<String>,
    source: Option<String>,
    region_code: Option<String>,
    address: Option<String>,
    postal_code: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    email: Option<String>,
    website: Option<String>,
    owner_id: Option<i64>,
    department_id: Option<i64>,
    status: String,
    tags: Vec<String>,
    credit_rating: Option<String>,
    remarks: Option<String>,
    contacts: Vec<Contact>,
    custom: Map<String, Value>,
}

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

/// The stored record kept in each history entry (rebuilds `as_of`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    customer_type: String,
    name: String,
    status: String,
    uscc: Option<String>,
    region_code: Option<String>,
    industry: Option<String>,
    level: Option<String>,
    owner_id: Option<i64>,
    department_id: Option<i64>,
    data: String,
    updated_at: i64,
    row_version: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: i64,
    pub name: String,
    pub title: Option<String>,
    pub mobile: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub is_primary: bool,
}

/// A customer as the API shows it. Personal data is masked unless `pii_masked` is false.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: i64,
    pub code: String,
    pub customer_type: String,
    pub name: String,
    pub short_name: Option<String>,
    pub former_names: Vec<String>,
    pub status: String,
    pub uscc: Option<String>,
    pub id_number: Option<String>,
    pub legal_representative: Option<String>,
    pub established_on: Option<String>,
    pub registered_capital: Option<f64>,
    pub industry: Option<String>,
    pub industry_name: Option<String>,
    pub scale: Option<String>,
    pub level: Option<String>,
    pub source: Option<String>,
    pub region_code: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    pub tags: Vec<String>,
    pub credit_rating: Option<String>,
    pub remarks: Option<String>,
    pub contacts: Vec<ContactView>,
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
    /// True when personal data in this response is masked.
    pub pii_masked: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Set when the record was rebuilt for `as_of`.
    pub as_of: Option<String>,
    /// For a merged customer: the code of the customer it was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// On create and update: existing customers this one may duplicate (a warning).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub possible_duplicates: Vec<duplicates::DuplicateCandidate>,
}

/// One field change in the history.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    pub field: String,
    /// The value before: text, number, list or null, as the field holds it (masked PII).
    pub old: Value,
    /// The value after, in the same form.
    pub new: Value,
}

/// One entry of the change history (变更记录); personal data masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub version: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
}

// ---------------------------------------------------------------------------------------
// Validation

/// The built-in field `field` has no value; the messages name it by its catalog label.
fn required_builtin(field: &str, errors: &mut Vec<FieldError>) {
    let (zh, en) = crate::fields::builtin_labels(field)
        .map(|(zh, en)| (zh.as_str(), en.as_str()))
        .unwrap_or((field, field));
    required(field, zh, en, errors);
}

/// `field` has no value; the messages name it by its label (`zh`, `en`) and its key.
fn required(field: &str, zh: &str, en: &str, errors: &mut Vec<FieldError>) {
    errors.push(
        Violation::new(
            "required",
            format!("{zh}为必填项（{field}）"),
            format!("{en} is required ({field})"),
        )
        .on(field),
    );
}

/// A short preview of an offending value for messages.
fn preview(v: &str) -> String {
    if v.chars().count() > 24 {
        format!("{}…", v.chars().take(24).collect::<String>())
    } else {
        v.to_string()
    }
}

fn check_len(field: &str, v: &str, max: usize, errors: &mut Vec<FieldError>) {
    let n = v.chars().count();
    if n > max {
        errors.push(
            Violation::new(
                "length.max",
                format!(
                    "字段“{field}”不能超过 {max} 个字符（当前 {n} 个：{}）",
                    preview(v)
                ),
                format!(
                    "field '{field}' must not exceed {max} characters (has {n}: {})",
                    preview(v)
                ),
            )
            .on(field),
        );
    }
}

/// Normalised text or `None` when empty; length checked.
fn text(
    field: &str,
    value: Option<&str>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = normalize_text(value?);
    if v.is_empty() {
        return None;
    }
    check_len(field, &v, max, errors);
    Some(v)
}

/// Normalised texts of a list, each checked like [`text`], repeats removed (first kept).
fn text_list(
    field: &str,
    items: &[String],
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let texts = items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| text(&format!("{field}[{i}]"), Some(t), max, errors));
    custos_core::lists::dedup_keep_first(texts)
}

/// Parse with a core validator into its canonical text.
fn parsed<T>(
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, Violation>,
    canon: impl Fn(&T) -> String,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = value.map(str::trim).filter(|s| !s.is_empty())?;
    match parse(v) {
        Ok(t) => Some(canon(&t)),
        Err(e) => {
            errors.push(e.on(field));
            None
        }
    }
}

fn one_of(
    field: &str,
    value: Option<&str>,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = normalize_text(value?).to_lowercase();
    if v.is_empty() {
        return None;
    }
    if !allowed.contains(&v.as_str()) {
        errors.push(
            Violation::new(
                "value.not_allowed",
                format!(
                    "字段“{field}”的取值“{v}”不在允许范围内：{}",
                    allowed.join("、")
                ),
                format!(
                    "field '{field}' value '{v}' is not allowed; choose one of {}",
                    allowed.join(", ")
                ),
            )
            .on(field),
        );
        return None;
    }
    Some(v)
}

fn parse_date(
    field: &str,
    value: Option<&str>,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let raw = normalize_text(value?);
    if raw.is_empty() {
        return None;
    }
    let v = raw.replace(['/', '.'], "-");
    match NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
        Ok(d) if d > today => {
            errors.push(
                Violation::new(
                    "date.future",
                    format!("字段“{field}”的日期不能晚于今天（{raw}）"),
                    format!("field '{field}' must not be a future date ({raw})"),
                )
                .on(field),
            );
            None
        }
        Ok(d) if d < NaiveDate::from_ymd_opt(1800, 1, 1).unwrap_or(d) => {
            errors.push(
                Violation::new(
                    "date.range",
                    format!("字段“{field}”的日期早于 1800 年（{raw}）"),
                    format!("field '{field}' is before 1800 ({raw})"),
                )
                .on(field),
            );
            None
        }
        Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
        Err(_) => {
            errors.push(
                Violation::new(
                    "date.format",
                    format!("字段“{field}”不是有效日期，应为 YYYY-MM-DD（{raw}）"),
                    format!("field '{field}' is not a valid date YYYY-MM-DD ({raw})"),
                )
                .on(field),
            );
            None
        }
    }
}

/// Everything validation needs from the database, loaded once per write.
#[derive(PartialEq)]
pub(crate) struct Reference {
    types: Vec<CustomerType>,
    custom: Vec<crate::fields::FieldDefinition>,
}

/// The [`Reference`] the last write transaction read, shared so that work done before a
/// transaction can be checked against what the transaction sees (see [`Checked`]).
#[derive(Default)]
pub(crate) struct ReferenceSeen(std::sync::Mutex<Option<Arc<Reference>>>);

impl ReferenceSeen {
    /// `fresh`, or the equal copy kept before (so later checks compare pointers); kept.
    pub(crate) fn settle(&self, fresh: Reference) -> Arc<Reference> {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match kept.as_ref() {
            Some(k) if **k == fresh => k.clone(),
            _ => {
                let fresh = Arc::new(fresh);
                *kept = Some(fresh.clone());
                fresh
            }
        }
    }

    fn latest(&self) -> Option<Arc<Reference>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The part of a creation that needs no database — the record validated and normalised,
/// its match profile and its index rows — worked out before the write transaction: by
/// the caller's task while the batch writer runs other creations, or for the next demo
/// batch while one commits. So that work leaves the writer's path, which is the one that
/// runs one creation after another. It is used only when the transaction reads the same
/// reference data (customer types, field catalog) and issue date; otherwise the
/// creation is validated again inside. Owner and department are resolved inside, from
/// the transaction.
pub(crate) struct Checked {
    today: NaiveDate,
    reference: Arc<Reference>,
    rec: Record,
    reason: Option<String>,
    prepared: custos_core::matching::Prepared,
    indexes: CustomerIndexes,
}

/// Creations from which a transaction counts as bulk (`Tx::set_bulk`): at a large
/// database each creation changes a few dozen pages.
const BULK_CREATIONS: usize = 100;

impl Checked {
    /// The match-key hashes the creation's duplicate check will look up.
    pub(crate) fn match_keys(&self) -> &[i64] {
        &self.indexes.match_keys
    }
}

/// Validate and normalise a whole record; all failures are collected.
fn validate(
    rec: Record,
    today: NaiveDate,
    reference: &Reference,
) -> Result<Record, Vec<FieldError>> {
    // Limits before work (a list of 60,000 tags is refused unread), then the characters
    // of every text, before any of them is normalised.
    let limits = text_rules::list_limits(&rec);
    if !limits.is_empty() {
        return Err(limits);
    }
    let refused = text_rules::refused_fields(&rec, &reference.custom);
    let mut errors = Vec::new();
    let e = &mut errors;
    let customer_type = normalize_text(&rec.customer_type).to_lowercase();
    if customer_type.is_empty() {
        required_builtin("customer_type", e);
    } else if !reference.types.iter().any(|t| t.key == customer_type) {
        let keys: Vec<&str> = reference.types.iter().map(|t| t.key.as_str()).collect();
        e.push(
            Violation::new(
                "customer_type.unknown",
                format!("客户类型“{customer_type}”不存在，可选：{}", keys.join("、")),
                format!(
                    "customer type '{customer_type}' does not exist; choose one of {}",
                    keys.join(", ")
                ),
            )
            .on("customer_type"),
        );
    }
    let individual = customer_type == "individual";
    let name = normalize_text(&rec.name);
    if name.is_empty() {
        required_builtin("name", e);
    } else {
        check_len("name", &name, 200, e);
    }
    let short_name = text("short_name", rec.short_name.as_deref(), 100, e);
    let former_names = text_list("former_names", &rec.former_names, 200, e);
    let uscc = parsed(
        "uscc",
        rec.uscc.as_deref(),
        Uscc::parse,
        |u| u.as_str().to_string(),
        e,
    );
    let id_number = parsed(
        "id_number",
        rec.id_number.as_deref(),
        |s| IdNumber::parse(s, today),
        |i| i.as_str().to_string(),
        e,
    );
    if id_number.is_some() && customer_type == "enterprise" {
        e.push(
            Violation::new(
                "id_number.not_applicable",
                "企业客户不填写身份证号码（请填写统一社会信用代码）",
                "enterprise customers have no ID number (use the unified social credit code)",
            )
            .on("id_number"),
        );
    }
    let legal_representative = text(
        "legal_representative",
        rec.legal_representative.as_deref(),
        50,
        e,
    );
    let established_on = parse_date("established_on", rec.established_on.as_deref(), today, e);
    let registered_capital = match rec.registered_capital {
        Some(c) if !c.is_finite() || !(0.0..=1.0e10).contains(&c) => {
            e.push(
                Violation::new(
                    "number.range",
                    format!("注册资本（万元）应在 0 到 10000000000 之间（{c}）"),
                    format!("registered capital (10k CNY) must be between 0 and 1e10 ({c})"),
                )
                .on("registered_capital"),
            );
            None
        }
        other => other,
    };
    let industry = parsed(
        "industry",
        rec.industry.as_deref(),
        industry::validate_industry,
        Clone::clone,
        e,
    );
    let scale_keys: Vec<&str> = SCALES.iter().map(|s| s.0).collect();
    let scale = one_of("scale", rec.scale.as_deref(), &scale_keys, e);
    let level = text("level", rec.level.as_deref(), 32, e);
    let source = text("source", rec.source.as_deref(), 64, e);
    let region_code = parsed(
        "region_code",
        rec.region_code.as_deref(),
        region::validate_region_code,
        Clone::clone,
        e,
    );
    let address = text_rules::multiline_text("address", rec.address.as_deref(), 300, e);
    let postal_code = parsed(
        "postal_code",
        rec.postal_code.as_deref(),
        PostalCode::parse,
        |p| p.as_str().to_string(),
        e,
    );
    let phone = parsed(
        "phone",
        rec.phone.as_deref(),
        Phone::parse,
        |p| p.as_str().to_string(),
        e,
    );
    let mobile = parsed(
        "mobile",
        rec.mobile.as_deref(),
        Mobile::parse,
        |m| m.as_str().to_string(),
        e,
    );
    let email = parsed(
        "email",
        rec.email.as_deref(),
        Email::parse,
        |m| m.as_str().to_string(),
        e,
    );
    let website = parsed(
        "website",
        rec.website.as_deref(),
        Website::parse,
        |w| w.as_str().to_string(),
        e,
    );
    if individual
        && id_number.is_none()
        && mobile.is_none()
        && !e
            .iter()
            .any(|f| f.field == "id_number" || f.field == "mobile")
    {
        e.push(
            Violation::new(
                "required.id_number_or_mobile",
                "个人客户须填写身份证号码或手机号码",
                "an individual customer needs an ID number or a mobile number",
            )
            .on("id_number"),
        );
    }
    let status = if rec.status.trim().is_empty() {
        "active".to_string()
    } else {
        one_of("status", Some(&rec.status), EDITABLE_STATUSES, e).unwrap_or_default()
    };
    let tags = text_list("tags", &rec.tags, 32, e);
    let credit_rating = text("credit_rating", rec.credit_rating.as_deref(), 16, e);
    let remarks = text_rules::multiline_text("remarks", rec.remarks.as_deref(), 2000, e);

    let mut contacts = Vec::new();
    let mut next_id = rec.contacts.iter().map(|c| c.id).max().unwrap_or(0) + 1;
    for (i, c) in rec.contacts.iter().enumerate() {
        let f = |n: &str| format!("contacts[{i}].{n}");
        let name = normalize_text(&c.name);
        if name.is_empty() {
            let n = i + 1;
            required(
                &f("name"),
                &format!("第 {n} 位联系人的姓名"),
                &format!("Name of contact {n}"),
                e,
            );
        } else {
            check_len(&f("name"), &name, 50, e);
        }
        let id = if c.id > 0 {
            c.id
        } else {
            next_id += 1;
            next_id - 1
        };
        contacts.push(Contact {
            id,
            name,
            title: text(&f("title"), c.title.as_deref(), 50, e),
            mobile: parsed(
                &f("mobile"),
                c.mobile.as_deref(),
                Mobile::parse,
                |m| m.as_str().to_string(),
                e,
            ),
            phone: parsed(
                &f("phone"),
                c.phone.as_deref(),
                Phone::parse,
                |p| p.as_str().to_string(),
                e,
            ),
            email: parsed(
                &f("email"),
                c.email.as_deref(),
                Email::parse,
                |m| m.as_str().to_string(),
                e,
            ),
            is_primary: c.is_primary,
        });
    }
    let primaries = contacts.iter().filter(|c| c.is_primary).count();
    if primaries > 1 {
        e.push(
            Violation::new(
                "contacts.primary",
                format!("只能有一个主联系人（当前 {primaries} 个）"),
                format!("at most one primary contact (has {primaries})"),
            )
            .on("contacts"),
        );
    }
    let custom = crate::fields::validate_custom(&reference.custom, &customer_type, &rec.custom, e);

    if !refused.is_empty() {
        return Err(text_rules::refused_first(refused, errors));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Record {
        customer_type,
        name,
        short_name,
        former_names,
        uscc,
        id_number,
        legal_representative,
        established_on,
        registered_capital,
        industry,
        scale,
        level,
        source,
        region_code,
        address,
        postal_code,
        phone,
        mobile,
        email,
        website,
        owner_id: rec.owner_id,
        department_id: rec.department_id,
        status,
        tags,
        credit_rating,
        remarks,
        contacts,
        custom,
    })
}

fn contact_record(c: &ContactInput, id: i64) -> Contact {
    Contact {
        id,
        name: c.name.clone().unwrap_or_default(),
        title: c.title.clone(),
        mobile: c.mobile.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        is_primary: c.is_primary.unwrap_or(false),
    }
}

impl From<&NewCustomer> for Record {
    fn from(n: &NewCustomer) -> Record {
        Record {
            customer_type: n.customer_type.clone(),
            name: n.name.clone(),
            short_name: n.short_name.clone(),
            former_names: n.former_names.clone(),
            uscc: n.uscc.clone(),
            id_number: n.id_number.clone(),
            legal_representative: n.legal_representative.clone(),
            established_on: n.established_on.clone(),
            registered_capital: n.registered_capital,
            industry: n.industry.clone(),
            scale: n.scale.clone(),
            level: n.level.clone(),
            source: n.source.clone(),
            region_code: n.region_code.clone(),
            address: n.address.clone(),
            postal_code: n.postal_code.clone(),
            phone: n.phone.clone(),
            mobile: n.mobile.clone(),
            email: n.email.clone(),
            website: n.website.clone(),
            owner_id: n.owner_id,
            department_id: n.department_id,
            status: n.status.clone().unwrap_or_default(),
            tags: n.tags.clone(),
            credit_rating: n.credit_rating.clone(),
            remarks: n.remarks.clone(),
            contacts: n.contacts.iter().map(|c| contact_record(c, 0)).collect(),
            custom: n.custom.clone(),
        }
    }
}

fn apply_patch(rec: &mut Record, p: &CustomerPatch) {
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = &p.$f { rec.$f = v.clone(); } )* };
    }
    with_optional_fields!(set);
    set!(former_names, tags);
    if let Some(n) = &p.name {
        rec.name = n.clone();
    }
    if let Some(s) = &p.status {
        rec.status = s.clone();
    }
    if let Some(o) = p.owner_id {
        if rec.owner_id != Some(o) && p.department_id.is_none() {
            // A new owner brings their department unless one is given.
            rec.department_id = None;
        }
        rec.owner_id = Some(o);
    }
    if let Some(d) = p.department_id {
        rec.department_id = d;
    }
    if let Some(cs) = &p.contacts {
        rec.contacts = cs.iter().map(|c| contact_record(c, 0)).collect();
    }
    if let Some(custom) = &p.custom {
        for (k, v) in custom {
            if v.is_null() {
                rec.custom.remove(k);
            } else {
                rec.custom.insert(k.clone(), v.clone());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stored form

fn seal(key: &PiiKey, v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| key.encrypt(s))
}

fn open_opt(key: &PiiKey, v: &Option<String>) -> AppResult<Option<String>> {
    v.as_ref().map(|s| key.decrypt(s)).transpose()
}

fn stored_data(rec: &Record, key: &PiiKey) -> String {
    let individual = rec.customer_type == "individual";
    let data = StoredData {
        short_name: rec.short_name.clone(),
        former_names: rec.former_names.clone(),
        id_number: seal(key, &rec.id_number),
        legal_representative: rec.legal_representative.clone(),
        established_on: rec.established_on.clone(),
        registered_capital: rec.registered_capital,
        scale: rec.scale.clone(),
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

pub(crate) fn record_of(row: &CustomerRow, key: &PiiKey) -> AppResult<Record> {
    let d: StoredData = serde_json::from_str(&row.data)
        .map_err(|e| AppError::Internal(format!("customer {} data unreadable: {e}", row.code)))?;
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
        uscc: row.uscc.clone(),
        id_number: open_opt(key, &d.id_number)?,
        legal_representative: d.legal_representative,
        established_on: d.established_on,
        registered_capital: d.registered_capital,
        industry: row.industry.clone(),
        scale: d.scale,
        level: row.level.clone(),
        source: d.source,
        region_code: row.region_code.clone(),
        address: match d.address_enc {
            Some(enc) => Some(key.decrypt(&enc)?),
            None => d.address,
        },
        postal_code: d.postal_code,
        phone: open_opt(key, &d.phone)?,
        mobile: open_opt(key, &d.mobile)?,
        email: open_opt(key, &d.email)?,
        website: d.website,
        owner_id: row.owner_id,
        department_id: row.department_id,
        status: row.status.clone(),
        tags: d.tags,
        credit_rating: d.credit_rating,
        remarks: d.remarks,
        contacts,
        custom: d.custom,
    })
}

/// A new customer's row: every column from the record, personal data sealed.
fn fresh_row(code: &str, rec: &Record, key: &PiiKey, created_by: i64, now: i64) -> CustomerRow {
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
fn with_record(base: &CustomerRow, rec: &Record, key: &PiiKey, now: i64) -> CustomerRow {
    CustomerRow {
        customer_type: rec.customer_type.clone(),
        name: rec.name.clone(),
        name_key: name_key(&rec.name).key,
        status: rec.status.clone(),
        uscc: rec.uscc.clone(),
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

/// The row as a history snapshot describes it (id, code and creation from `current`).
fn row_from_snapshot(current: &CustomerRow, snapshot: &str) -> AppResult<CustomerRow> {
    let s: Snapshot = serde_json::from_str(snapshot)
        .map_err(|e| AppError::Internal(format!("snapshot of {} unreadable: {e}", current.code)))?;
    Ok(CustomerRow {
        name_key: name_key(&s.name).key,
        customer_type: s.customer_type,
        name: s.name,
        status: s.status,
        uscc: s.uscc,
        region_code: s.region_code,
        industry: s.industry,
        level: s.level,
        owner_id: s.owner_id,
        department_id: s.department_id,
        data: s.data,
        updated_at: s.updated_at,
        row_version: s.row_version,
        ..current.clone()
    })
}

pub(crate) fn snapshot_of(row: &CustomerRow) -> String {
    let s = Snapshot {
        customer_type: row.customer_type.clone(),
        name: row.name.clone(),
        status: row.status.clone(),
        uscc: row.uscc.clone(),
        region_code: row.region_code.clone(),
        industry: row.industry.clone(),
        level: row.level.clone(),
        owner_id: row.owner_id,
        department_id: row.department_id,
        data: row.data.clone(),
        updated_at: row.updated_at,
        row_version: row.row_version,
    };
    serde_json::to_string(&s).unwrap_or_default()
}

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

fn indexes_of(rec: &Record, key: &PiiKey) -> CustomerIndexes {
    let prepared = custos_core::matching::prepare(
        &duplicates::match_record(rec),
        chrono::Utc::now().date_naive(),
    );
    indexes_with(rec, key, &prepared)
}

/// [`indexes_of`] with the record's matching features already prepared.
fn indexes_with(
    rec: &Record,
    key: &PiiKey,
    prepared: &custos_core::matching::Prepared,
) -> CustomerIndexes {
    let mut blind = Vec::new();
    let mut add = |kind: &str, v: &Option<String>| {
        if let Some(v) = v {
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

fn masked(field: &str, v: &str, individual: bool) -> String {
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
fn masked_record(rec: &Record) -> Record {
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

/// Field-level differences, personal data masked on both sides.
fn diff(old: &Record, new: &Record) -> Vec<FieldChange> {
    let a = serde_json::to_value(masked_record(old)).unwrap_or_default();
    let Value::Object(a) = a else {
        return Vec::new();
    };
    diff_from(old, &a, new)
}

/// [`diff`] with the old record's masked JSON already made.
fn diff_from(old: &Record, a: &Map<String, Value>, new: &Record) -> Vec<FieldChange> {
    let Value::Object(b) = serde_json::to_value(masked_record(new)).unwrap_or_default() else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    for (k, nv) in b {
        let ov = a.get(&k).cloned().unwrap_or(Value::Null);
        // Ciphertexts differ on every write; compare the plaintext records instead.
        if ov != nv || (PII_FIELDS.contains(&k.as_str()) && field_changed(old, new, &k)) {
            changes.push(FieldChange {
                field: k,
                old: ov,
                new: nv,
            });
        }
    }
    changes
}

fn field_changed(old: &Record, new: &Record, field: &str) -> bool {
    match field {
        "id_number" => old.id_number != new.id_number,
        "mobile" => old.mobile != new.mobile,
        "phone" => old.phone != new.phone,
        "email" => old.email != new.email,
        "address" => old.address != new.address,
        _ => false,
    }
}

fn creation_changes(rec: &Record) -> Vec<FieldChange> {
    // Every creation compares against an empty record of its type: its JSON is made once.
    static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();
    let empty = EMPTY.get_or_init(|| {
        match serde_json::to_value(masked_record(&Record::default())).unwrap_or_default() {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    });
    let old = Record {
        customer_type: rec.customer_type.clone(),
        ..Default::default()
    };
    // An empty record masks nothing, so only its type differs from the shared JSON.
    let mut a = empty.clone();
    a.insert(
        "customer_type".to_string(),
        Value::String(rec.customer_type.clone()),
    );
    diff_from(&old, &a, rec)
        .into_iter()
        .filter(|c| {
            !c.new.is_null() && c.new != Value::Array(vec![]) && c.new != Value::Object(Map::new())
        })
        .collect()
}

pub(crate) fn view(row: &CustomerRow, rec: &Record, reveal: bool) -> CustomerView {
    let names = rec.region_code.as_deref().and_then(region::names);
    let ind = rec.customer_type == "individual";
    let show = |f: &str, v: &Option<String>| -> Option<String> {
        v.as_deref().map(|s| {
            if reveal {
                s.to_string()
            } else {
                masked(f, s, ind)
            }
        })
    };
    CustomerView {
        id: row.id,
        code: row.code.clone(),
        customer_type: rec.customer_type.clone(),
        name: rec.name.clone(),
        short_name: rec.short_name.clone(),
        former_names: rec.former_names.clone(),
        status: rec.status.clone(),
        uscc: rec.uscc.clone(),
        id_number: show("id_number", &rec.id_number),
        legal_representative: rec.legal_representative.clone(),
        established_on: rec.established_on.clone(),
        registered_capital: rec.registered_capital,
        industry: rec.industry.clone(),
        industry_name: rec
            .industry
            .as_deref()
            .and_then(industry::name)
            .map(str::to_string),
        scale: rec.scale.clone(),
        level: rec.level.clone(),
        source: rec.source.clone(),
        region_code: rec.region_code.clone(),
        province: names.as_ref().map(|n| n.province.to_string()),
        city: names.as_ref().and_then(|n| n.city.map(str::to_string)),
        district: names.as_ref().and_then(|n| n.district.map(str::to_string)),
        address: show("address", &rec.address),
        postal_code: rec.postal_code.clone(),
        phone: show("phone", &rec.phone),
        mobile: show("mobile", &rec.mobile),
        email: show("email", &rec.email),
        website: rec.website.clone(),
        owner_id: rec.owner_id,
        department_id: rec.department_id,
        tags: rec.tags.clone(),
        credit_rating: rec.credit_rating.clone(),
        remarks: rec.remarks.clone(),
        contacts: rec
            .contacts
            .iter()
            .map(|c| ContactView {
                id: c.id,
                name: c.name.clone(),
                title: c.title.clone(),
                mobile: show("mobile", &c.mobile),
                phone: show("phone", &c.phone),
                email: show("email", &c.email),
                is_primary: c.is_primary,
            })
            .collect(),
        custom: rec.custom.clone(),
        pii_masked: !reveal,
        created_at: format_time(row.created_at),
        updated_at: format_time(row.updated_at),
        version: row.row_version,
        as_of: None,
        possible_duplicates: Vec::new(),
        merged_into: None,
    }
}

/// Fault injection for tests of rollback behaviour: called after the code is drawn, an
/// error return aborts the creation.
pub type FaultHook = std::sync::Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// `YYYY-MM` of a time in the business time zone.
fn month_of(us: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.with_timezone(&tz).format("%Y-%m").to_string())
        .unwrap_or_default()
}

impl App {
    /// Compare the configured PII key with the check value stored on first start; a
    /// different key is a start-up error (data encrypted with another key is unreadable).
    pub async fn check_pii_key(&self) -> AppResult<()> {
        let key = &self.config.pii_key;
        let mut tx = self.db.begin().await?;
        match tx.setting(crate::pii::CHECK_SETTING).await? {
            Some(stored) if stored == key.check_value() => {
                tx.rollback().await?;
                Ok(())
            }
            Some(_)
                if tx.count_customers().await? == 0
                    && !tx
                        .audit_keyed_with_other(Some(key.audit_key().id()))
                        .await? =>
            {
                // Nothing is encrypted under the old key yet (e.g. a fresh restore of an
                // empty database) and no audit entry is keyed with it: adopt the key.
                tx.put_setting(crate::pii::CHECK_SETTING, key.check_value())
                    .await?;
                tx.commit().await?;
                tracing::warn!(
                    key_id = key.key_id(),
                    "PII key replaced: the database holds no customers"
                );
                Ok(())
            }
            Some(stored) => {
                tx.rollback().await?;
                let stored_id = stored.split(':').next().unwrap_or("?").to_string();
                Err(AppError::Internal(format!(
                    "the PII key (id {}) is not the key this database was created with (id {stored_id}); \
                     set CUSTOS_PII_KEY or CUSTOS_PII_KEY_FILE to the original key, or restore pii.key \
                     in the data directory — without it encrypted personal data cannot be read \
                     and the audit chain cannot be verified",
                    key.key_id()
                )))
            }
            None => {
                tx.put_setting(crate::pii::CHECK_SETTING, key.check_value())
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    }

    /// Configured customer types (settings key `customer_types`).
    pub async fn customer_types(&self) -> AppResult<Vec<CustomerType>> {
        let mut tx = self.db.begin_read().await?;
        let types = load_customer_types(&mut tx).await?;
        tx.rollback().await?;
        Ok(types)
    }

    /// Replace the list of customer types (`field.manage`).
    pub async fn set_customer_types(
        &self,
        actor: &Actor,
        types: impl Into<crate::input::Input<Vec<CustomerType>>>,
    ) -> AppResult<Vec<CustomerType>> {
        actor.require("field.manage")?;
        let types = types.into().get()?;
        let mut errors = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in types.iter().enumerate() {
            let ok = (1..=32).contains(&t.key.len())
                && t.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok || !seen.insert(t.key.clone()) {
                errors.push(
                    Violation::new(
                        "customer_type.key",
                        format!("客户类型标识“{}”不合规或重复", t.key),
                        format!("customer type key '{}' is invalid or repeated", t.key),
                    )
                    .on(format!("[{i}].key")),
                );
            }
            if t.label_zh.trim().is_empty() {
                errors.push(
                    Violation::new(
                        "required",
                        "中文名称为必填项",
                        "the Chinese label is required",
                    )
                    .on(format!("[{i}].label_zh")),
                );
            }
        }
        if types.is_empty() {
            errors.push(
                Violation::new(
                    "required",
                    "至少需要一个客户类型",
                    "at least one customer type is needed",
                )
                .on("[]"),
            );
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.db.begin().await?;
        let before = load_customer_types(&mut tx).await?;
        tx.put_setting("customer_types", &to_json(&types).unwrap_or_default())
            .await?;
        let mut r = record(
            actor,
            "settings.customer_types",
            "settings",
            "customer_types",
        );
        r.before = to_json(&before);
        r.after = to_json(&types);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(types)
    }

    pub(crate) async fn reference(&self, tx: &mut Tx) -> AppResult<Reference> {
        Ok(Reference {
            types: load_customer_types(tx).await?,
            custom: crate::fields::load_definitions(tx).await?,
        })
    }

    /// Owner and department must exist; the department defaults to the owner's.
    async fn resolve_owner(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        rec: &mut Record,
    ) -> AppResult<Vec<FieldError>> {
        let mut errors = Vec::new();
        let Some(owner_id) = rec.owner_id else {
            return Ok(errors);
        };
        match lookups.user(tx, owner_id).await? {
            None => errors.push(
                Violation::new(
                    "user.unknown",
                    format!("负责人 {owner_id} 不存在"),
                    format!("owner {owner_id} does not exist"),
                )
                .on("owner_id"),
            ),
            Some(owner) => {
                if rec.department_id.is_none() {
                    rec.department_id = owner.department_id;
                }
            }
        }
        if let Some(d) = rec.department_id {
            if !lookups.department_exists(tx, d).await? {
                errors.push(
                    Violation::new(
                        "department.unknown",
                        format!("部门 {d} 不存在"),
                        format!("department {d} does not exist"),
                    )
                    .on("department_id"),
                );
            }
        }
        Ok(errors)
    }

    /// Create a customer and issue its code in one transaction (`customer.create`).
    pub async fn create_customer(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewCustomer>>,
    ) -> AppResult<CustomerView> {
        let scope = actor.require("customer.create")?;
        let input = input.into().get()?;
        // Validation and matching features are worked out here, beside the batch writer;
        // a retried batch (the slot already taken) works them out again inside.
        let checked = self.check_new(actor, &input);
        let match_keys = checked
            .as_ref()
            .map(|c| c.match_keys().to_vec())
            .unwrap_or_default();
        let checked = Arc::new(std::sync::Mutex::new(checked));
        // Concurrent creations share one commit (group commit, see batch.rs); each runs in
        // its own savepoint, so a failure still rolls back only its own code draw.
        let app = self.clone();
        let actor = actor.clone();
        self.batcher
            .run(&self.db, match_keys, move |tx, lookups| {
                let (app, actor, input) = (app.clone(), actor.clone(), input.clone());
                let checked = checked.lock().unwrap_or_else(|p| p.into_inner()).take();
                Box::pin(async move {
                    let (row, rec, duplicates) = app
                        .insert_new_customer_excluding(
                            tx,
                            lookups,
                            &actor,
                            scope,
                            input,
                            checked,
                            &[],
                        )
                        .await?;
                    let reveal = app.reveal(tx, &actor, &row, &rec).await?;
                    let mut v = view(&row, &rec, reveal);
                    v.possible_duplicates = duplicates.candidates;
                    Ok(v)
                })
            })
            .await
    }

    /// Create many customers in one transaction (imports, demo data): the same
    /// validation, code issue, history and audit per customer as [`App::create_customer`],
    /// one commit for all. Any failure rolls the whole batch back; field names in errors
    /// are prefixed with the item's index (`[3].uscc`). Returns the codes.
    pub async fn create_customers(
        &self,
        actor: &Actor,
        inputs: Vec<NewCustomer>,
    ) -> AppResult<Vec<String>> {
        let items = inputs
            .into_iter()
            .map(|i| {
                let checked = self.check_new(actor, &i);
                (i, checked)
            })
            .collect();
        self.create_checked(actor, items).await
    }

    /// [`App::create_customers`] with each item's work done before the transaction
    /// (see [`Checked`]).
    pub(crate) async fn create_checked(
        &self,
        actor: &Actor,
        items: Vec<(NewCustomer, Option<Checked>)>,
    ) -> AppResult<Vec<String>> {
        self.create_checked_leaving_out(actor, items, false)
            .await
            .map(|(codes, _)| codes)
    }

    /// [`App::create_checked`]; with `leave_out_duplicates`, an item the duplicate check
    /// refuses is left out instead of failing the batch (the check comes before any of
    /// the item's writes), and the first such refusal is returned beside the codes of
    /// those created. For synthetic data, where a generated near-twin of an earlier
    /// customer is the generator's accident, not an input to keep.
    pub(crate) async fn create_checked_leaving_out(
        &self,
        actor: &Actor,
        items: Vec<(NewCustomer, Option<Checked>)>,
        leave_out_duplicates: bool,
    ) -> AppResult<(Vec<String>, Option<AppError>)> {
        let scope = actor.require("customer.create")?;
        let mut tx = self.db.begin().await?;
        let keys = items
            .iter()
            .filter_map(|(_, c)| c.as_ref())
            .map(Checked::match_keys);
        let mut lookups = Lookups::for_creations(&mut tx, items.len(), keys, Some(self)).await?;
        let mut codes = Vec::with_capacity(items.len());
        let mut left_out = None;
        for (i, (input, checked)) in items.into_iter().enumerate() {
            match self
                .insert_new_customer_excluding(
                    &mut tx,
                    &mut lookups,
                    actor,
                    scope,
                    input,
                    checked,
                    &[],
                )
                .await
            {
                Ok((row, _, _)) => codes.push(row.code),
                Err(e @ AppError::Duplicate { .. }) if leave_out_duplicates => {
                    left_out.get_or_insert(e);
                }
                Err(AppError::Validation(fields)) => {
                    return Err(AppError::Validation(
                        fields
                            .into_iter()
                            .map(|f| FieldError {
                                field: format!("[{i}].{}", f.field),
                                violation: f.violation,
                            })
                            .collect(),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok((codes, left_out))
    }

    /// Validate, draw the code, insert, register the code, index, history, audit — all
    /// in `tx`.
    pub(crate) async fn insert_new_customer(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        actor: &Actor,
        scope: Scope,
        input: NewCustomer,
    ) -> AppResult<(CustomerRow, Record, duplicates::DuplicateReport)> {
        self.insert_new_customer_excluding(tx, lookups, actor, scope, input, None, &[])
            .await
    }

    /// Read the reference data (customer types, field catalog) in a read transaction if
    /// no transaction has yet, so that [`App::check_new`] works from a bulk job's first
    /// batch on; otherwise a new process validates its first batch (up to tens of
    /// thousands of rows) inside the write transaction, and its duplicate read-ahead
    /// misses every key. A creation still uses the work only if its own transaction reads
    /// equal reference data.
    pub(crate) async fn settle_reference(&self) -> AppResult<()> {
        if self.reference_seen.latest().is_some() {
            return Ok(());
        }
        let mut tx = self.db.begin_read().await?;
        let reference = self.reference(&mut tx).await?;
        tx.rollback().await?;
        self.reference_seen.settle(reference);
        Ok(())
    }

    /// The database-free part of creating `input` (see [`Checked`]), when the record is
    /// valid against the reference data a transaction saw last (or
    /// [`App::settle_reference`] read); `None` otherwise, and the creation then validates
    /// in its transaction as usual — including reporting every error.
    pub(crate) fn check_new(&self, actor: &Actor, input: &NewCustomer) -> Option<Checked> {
        let reference = self.reference_seen.latest()?;
        let today = issue_date(self.config.code_timezone);
        let mut reason_errors = Vec::new();
        let reason = text("reason", input.reason.as_deref(), 500, &mut reason_errors);
        if !reason_errors.is_empty() {
            return None;
        }
        let mut raw = Record::from(input);
        raw.owner_id = Some(input.owner_id.unwrap_or(actor.user_id));
        let rec = validate(raw, today, &reference).ok()?;
        let prepared = custos_core::matching::prepare(&duplicates::match_record(&rec), today);
        let indexes = indexes_with(&rec, &self.config.pii_key, &prepared);
        Some(Checked {
            today,
            reference,
            rec,
            reason,
            prepared,
            indexes,
        })
    }

    /// [`App::insert_new_customer`] with the work `checked` did before the transaction
    /// (used if still valid, see [`Checked`]), ignoring the customers `exclude` in the
    /// duplicate check (a split's original).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_new_customer_excluding(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        actor: &Actor,
        scope: Scope,
        input: NewCustomer,
        checked: Option<Checked>,
        exclude: &[i64],
    ) -> AppResult<(CustomerRow, Record, duplicates::DuplicateReport)> {
        if input.code.is_some() {
            actor.require("code.assign")?;
        }
        let today = issue_date(self.config.code_timezone);
        let key = &self.config.pii_key;
        let reference = lookups.reference(self, tx).await?;
        let checked = checked.filter(|c| {
            c.today == today
                && (Arc::ptr_eq(&c.reference, &reference) || *c.reference == *reference)
        });
        let (rec, reason, ready) = match checked {
            Some(c) => {
                let mut rec = c.rec;
                let errors = self.resolve_owner(tx, lookups, &mut rec).await?;
                if !errors.is_empty() {
                    return Err(AppError::Validation(errors));
                }
                (rec, c.reason, Some((c.prepared, c.indexes)))
            }
            None => {
                let mut raw = Record::from(&input);
                raw.owner_id = Some(input.owner_id.unwrap_or(actor.user_id));
                let mut reason_errors = Vec::new();
                let reason = text("reason", input.reason.as_deref(), 500, &mut reason_errors);
                let mut errors = self.resolve_owner(tx, lookups, &mut raw).await?;
                let rec = match validate(raw, today, &reference) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        errors.extend(e);
                        None
                    }
                };
                errors.extend(reason_errors);
                match rec {
                    Some(r) if errors.is_empty() => (r, reason, None),
                    _ => return Err(AppError::Validation(errors)),
                }
            }
        };
        // The creator must be able to see what they create.
        let owner_id = rec.owner_id.unwrap_or(actor.user_id);
        check_owner_in_scope(tx, actor, scope, owner_id, rec.department_id).await?;
        // Every writer takes the audit head first (PostgreSQL), so no other process can
        // add a matching customer between this check and the commit.
        tx.lock_audit_head().await?;
        let (prepared, indexes) = match ready {
            Some(r) => r,
            None => {
                let prepared =
                    custos_core::matching::prepare(&duplicates::match_record(&rec), today);
                let indexes = indexes_with(&rec, key, &prepared);
                (prepared, indexes)
            }
        };
        let duplicates = self
            .find_duplicates_of(tx, actor, &prepared, &indexes.match_keys, exclude)
            .await?;
        self.guard_duplicates(
            actor,
            &duplicates,
            input.override_duplicates,
            reason.as_deref(),
        )?;

        let mut attributes = BTreeMap::new();
        attributes.insert("customer_type".to_string(), rec.customer_type.clone());
        if let Some(l) = &rec.level {
            attributes.insert("level".to_string(), l.clone());
        }
        if let Some(i) = &rec.industry {
            attributes.insert("industry".to_string(), i.clone());
        }
        let drawn = draw_code(
            tx,
            lookups,
            self.config.code_timezone,
            &attributes,
            &rec.customer_type,
            rec.region_code.as_deref(),
            input.code.as_deref(),
        )
        .await?;
        if let Some(hook) = &self.config.fault_after_code_draw {
            hook.0(&drawn.code).map_err(AppError::Internal)?;
        }
        let now = now_us();
        let mut row = fresh_row(&drawn.code, &rec, key, actor.user_id, now);
        // A creation's changes are every field of its snapshot: not stored twice (about
        // half of the history's bytes), derived when the history is read.
        let history = HistoryRow {
            id: 0,
            customer_id: 0,
            row_version: 1,
            at: now,
            actor_id: Some(actor.user_id),
            actor_name: actor.username.clone(),
            action: "create".into(),
            reason: reason.clone(),
            changes: String::new(),
            snapshot: snapshot_of(&row),
        };
        let mut r = record(actor, "customer.create", "customer", &row.code);
        r.after = to_json(&serde_json::json!({
            "code": row.code, "rule": format!("{}@{}", drawn.rule_key, drawn.rule_version),
            "manual_code": drawn.manual, "record": masked_record(&rec),
            "duplicates": duplicates.summary(),
            "duplicates_overridden": duplicates.is_definite(),
        }));
        r.reason = reason.clone();
        let write = NewCustomerWrite {
            row: &row,
            created_month: &month_of(now, self.config.code_timezone),
            code: &code_row(&drawn, None, "active", actor, reason),
            indexes: &indexes,
            history: &history,
            audit: &r,
        };
        row.id = match tx.insert_new_customer(write).await {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => return Err(code_taken(&drawn.code)),
            Err(e) => return Err(e.into()),
        };
        self.remember_prepared(&row, prepared);
        Ok((row, rec, duplicates))
    }

    /// Whether this caller sees personal data in clear; when so (and there is any), the
    /// read is audited in `tx`.
    async fn reveal(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
        rec: &Record,
    ) -> AppResult<bool> {
        if !actor.can("customer.pii.read") {
            return Ok(false);
        }
        if has_pii(rec) {
            let mut r = record(actor, "customer.pii_read", "customer", &row.code);
            r.after = to_json(&serde_json::json!({ "version": row.row_version }));
            append(tx, r).await?;
        }
        Ok(true)
    }

    /// Read a customer by code within the caller's data scope (out of scope = 404).
    pub async fn get_customer(&self, actor: &Actor, code: &str) -> AppResult<CustomerView> {
        self.get_customer_as_of(actor, code, None).await
    }

    /// Read a customer, or rebuild it as it was at `as_of` (microseconds) from its history.
    pub async fn get_customer_as_of(
        &self,
        actor: &Actor,
        code: &str,
        as_of: Option<i64>,
    ) -> AppResult<CustomerView> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.db.begin_read().await?;
        let current = scoped_customer(&mut tx, actor, scope, code).await?;
        crate::applications::check_archive_readable(actor, &current)?;
        let survivor = match current.status.as_str() {
            "merged" => match tx.merged_into(current.id).await? {
                Some(id) => tx.customer(id).await?.map(|s| s.code),
                None => None,
            },
            _ => None,
        };
        let row = match as_of {
            None => current,
            Some(at) => {
                // Times are shown with millisecond precision: include the whole millisecond.
                let h = tx
                    .customer_history_as_of(current.id, at + 999)
                    .await?
                    .ok_or_else(|| AppError::not_found("customer", &current.code))?;
                row_from_snapshot(&current, &h.snapshot)?
            }
        };
        tx.rollback().await?;
        let rec = record_of(&row, &self.config.pii_key)?;
        let reveal = if actor.can("customer.pii.read") && has_pii(&rec) {
            let mut tx = self.db.begin().await?;
            let reveal = self.reveal(&mut tx, actor, &row, &rec).await?;
            tx.commit().await?;
            reveal
        } else {
            actor.can("customer.pii.read")
        };
        let mut v = view(&row, &rec, reveal);
        v.as_of = as_of.map(format_time);
        v.merged_into = survivor;
        Ok(v)
    }

    /// Change a customer (`customer.update`): optimistic on `version`, a reason for major
    /// fields, the whole record re-validated, history and audit in the same transaction.
    pub async fn update_customer(
        &self,
        actor: &Actor,
        code: &str,
        patch: CustomerPatch,
    ) -> AppResult<CustomerView> {
        let reason = patch.reason.clone();
        let override_duplicates = patch.override_duplicates;
        self.change_customer(
            actor,
            code,
            Some(patch.version),
            reason,
            override_duplicates,
            "update",
            |rec| {
                apply_patch(rec, &patch);
                Ok(())
            },
        )
        .await
    }

    /// Add a contact.
    pub async fn add_contact(
        &self,
        actor: &Actor,
        code: &str,
        input: ContactInput,
    ) -> AppResult<CustomerView> {
        self.change_customer(actor, code, None, None, false, "contact.add", |rec| {
            let id = rec.contacts.iter().map(|c| c.id).max().unwrap_or(0) + 1;
            if input.is_primary == Some(true) {
                for c in &mut rec.contacts {
                    c.is_primary = false;
                }
            }
            rec.contacts.push(contact_record(&input, id));
            Ok(())
        })
        .await
    }

    /// Change a contact.
    pub async fn update_contact(
        &self,
        actor: &Actor,
        code: &str,
        contact_id: i64,
        p: ContactPatch,
    ) -> AppResult<CustomerView> {
        let reason = p.reason.clone();
        self.change_customer(actor, code, None, reason, false, "contact.update", |rec| {
            if !rec.contacts.iter().any(|c| c.id == contact_id) {
                return Err(AppError::not_found("contact", contact_id));
            }
            if p.is_primary == Some(true) {
                for c in &mut rec.contacts {
                    c.is_primary = false;
                }
            }
            if let Some(c) = rec.contacts.iter_mut().find(|c| c.id == contact_id) {
                if let Some(n) = &p.name {
                    c.name = n.clone();
                }
                if let Some(v) = &p.title {
                    c.title = v.clone();
                }
                if let Some(v) = &p.mobile {
                    c.mobile = v.clone();
                }
                if let Some(v) = &p.phone {
                    c.phone = v.clone();
                }
                if let Some(v) = &p.email {
                    c.email = v.clone();
                }
                if let Some(v) = p.is_primary {
                    c.is_primary = v;
                }
            }
            Ok(())
        })
        .await
    }

    /// Remove a contact.
    pub async fn delete_contact(
        &self,
        actor: &Actor,
        code: &str,
        contact_id: i64,
    ) -> AppResult<CustomerView> {
        self.change_customer(actor, code, None, None, false, "contact.delete", |rec| {
            let before = rec.contacts.len();
            rec.contacts.retain(|c| c.id != contact_id);
            if rec.contacts.len() == before {
                return Err(AppError::not_found("contact", contact_id));
            }
            Ok(())
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_customer(
        &self,
        actor: &Actor,
        code: &str,
        expected_version: Option<i64>,
        reason: Option<String>,
        override_duplicates: bool,
        action: &str,
        mutate: impl FnOnce(&mut Record) -> AppResult<()>,
    ) -> AppResult<CustomerView> {
        let scope = actor.require("customer.update")?;
        let mut tx = self.db.begin().await?;
        let (row, new, possible_duplicates) = self
            .change_customer_in(
                &mut tx,
                actor,
                scope,
                code,
                expected_version,
                reason,
                override_duplicates,
                action,
                mutate,
            )
            .await?;
        let reveal = self.reveal(&mut tx, actor, &row, &new).await?;
        tx.commit().await?;
        let mut v = view(&row, &new, reveal);
        v.possible_duplicates = possible_duplicates;
        Ok(v)
    }

    /// Apply a customer patch inside `tx` on behalf of an approved application (the
    /// caller decided authorisation); same validation, history and audit as an update.
    pub(crate) async fn update_customer_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        code: &str,
        patch: &CustomerPatch,
        action: &str,
    ) -> AppResult<CustomerRow> {
        let reason = patch.reason.clone();
        let (row, _, _) = self
            .change_customer_in(
                tx,
                actor,
                Scope::All,
                code,
                Some(patch.version),
                reason,
                patch.override_duplicates,
                action,
                |rec| {
                    apply_patch(rec, patch);
                    Ok(())
                },
            )
            .await?;
        Ok(row)
    }

    /// The body of [`App::change_customer`] inside a caller's transaction; returns the
    /// stored row and the record after the change.
    #[allow(clippy::too_many_arguments)]
    async fn change_customer_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        scope: Scope,
        code: &str,
        expected_version: Option<i64>,
        reason: Option<String>,
        override_duplicates: bool,
        action: &str,
        mutate: impl FnOnce(&mut Record) -> AppResult<()>,
    ) -> AppResult<(CustomerRow, Record, Vec<duplicates::DuplicateCandidate>)> {
        let code = code.trim().to_ascii_uppercase();
        let key = &self.config.pii_key;
        let today = issue_date(self.config.code_timezone);
        let row = scoped_customer(tx, actor, scope, &code).await?;
        if let Some(v) = expected_version {
            if v != row.row_version {
                return Err(AppError::Conflict(Violation::new(
                    "customer.version_stale",
                    format!(
                        "客户“{code}”已被他人修改（您读取的版本 {v}，当前版本 {}），请重新读取后再改",
                        row.row_version
                    ),
                    format!(
                        "customer '{code}' was changed meanwhile (you read version {v}, it is now {}); reload and retry",
                        row.row_version
                    ),
                )));
            }
        }
        if !EDITABLE_STATUSES.contains(&row.status.as_str()) {
            return Err(AppError::Rejected(Violation::new(
                "customer.not_editable",
                format!("客户“{code}”状态为 {}，不能修改", row.status),
                format!("customer '{code}' is {} and cannot be changed", row.status),
            )));
        }
        let old = record_of(&row, key)?;
        let mut raw = old.clone();
        mutate(&mut raw)?;
        let mut lookups = Lookups::default();
        let reference = lookups.reference(self, tx).await?;
        let mut errors = self.resolve_owner(tx, &mut lookups, &mut raw).await?;
        let mut reason_errors = Vec::new();
        let reason = text("reason", reason.as_deref(), 500, &mut reason_errors);
        errors.extend(reason_errors);
        let new = match validate(raw, today, &reference) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        if let Some(new) = &new {
            let major: Vec<&str> = MAJOR_FIELDS
                .iter()
                .copied()
                .filter(|f| match *f {
                    "name" => old.name != new.name,
                    "uscc" => old.uscc != new.uscc,
                    "id_number" => old.id_number != new.id_number,
                    "customer_type" => old.customer_type != new.customer_type,
                    _ => false,
                })
                .collect();
            if !major.is_empty() && reason.is_none() {
                errors.push(
                    Violation::new(
                        "reason.required",
                        format!("修改重要字段（{}）须填写原因", major.join("、")),
                        format!(
                            "changing a major field ({}) needs a reason",
                            major.join(", ")
                        ),
                    )
                    .on("reason"),
                );
            }
        }
        let new = match new {
            Some(n) if errors.is_empty() => n,
            _ => return Err(AppError::Validation(errors)),
        };
        let owner_id = new.owner_id.unwrap_or(actor.user_id);
        if new.owner_id != old.owner_id || new.department_id != old.department_id {
            check_owner_in_scope(tx, actor, scope, owner_id, new.department_id).await?;
        }
        // Prepared once: for the duplicate check, the match keys and the candidate cache.
        let prepared = custos_core::matching::prepare(
            &duplicates::match_record(&new),
            issue_date(self.config.code_timezone),
        );
        let mut possible_duplicates = Vec::new();
        if duplicates::matching_fields_changed(&old, &new) {
            tx.lock_audit_head().await?;
            let report = self
                .find_duplicates_of(
                    tx,
                    actor,
                    &prepared,
                    &duplicates::hashes_of(&prepared, &self.config.pii_key),
                    &[row.id],
                )
                .await?;
            // Only a change that *makes* a definite duplicate is blocked; one that was
            // already there (overridden at creation) does not block every later edit.
            let blocking = if report.is_definite() {
                let before = self.find_duplicates(tx, actor, &old, &[row.id]).await?;
                !before.is_definite()
            } else {
                false
            };
            if blocking {
                self.guard_duplicates(actor, &report, override_duplicates, reason.as_deref())?;
            }
            possible_duplicates = report.candidates;
        }
        let changes = diff(&old, &new);
        if changes.is_empty() {
            return Ok((row, new, possible_duplicates));
        }
        let now = now_us();
        let updated = tx
            .update_customer(&with_record(&row, &new, key, now))
            .await?;
        tx.replace_customer_indexes(row.id, &indexes_with(&new, key, &prepared), false)
            .await?;
        self.remember_prepared(&updated, prepared);
        tx.insert_customer_history(&HistoryRow {
            id: 0,
            customer_id: row.id,
            row_version: updated.row_version,
            at: now,
            actor_id: Some(actor.user_id),
            actor_name: actor.username.clone(),
            action: action.to_string(),
            reason: reason.clone(),
            changes: serde_json::to_string(&changes).unwrap_or_default(),
            snapshot: snapshot_of(&updated),
        })
        .await?;
        let mut r = record(actor, &format!("customer.{action}"), "customer", &code);
        let before: Map<String, Value> = changes
            .iter()
            .map(|c| (c.field.clone(), c.old.clone()))
            .collect();
        let after: Map<String, Value> = changes
            .iter()
            .map(|c| (c.field.clone(), c.new.clone()))
            .collect();
        r.before = to_json(&before);
        r.after = to_json(&after);
        r.reason = reason;
        append(tx, r).await?;
        Ok((updated, new, possible_duplicates))
    }

    /// The change history of a customer, oldest first (personal data masked).
    pub async fn customer_history(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<Vec<HistoryEntry>> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        crate::applications::check_archive_readable(actor, &row)?;
        let rows = tx.customer_history(row.id).await?;
        tx.rollback().await?;
        rows.into_iter()
            .map(|h| {
                let changes = if h.changes.is_empty() && h.action == "create" {
                    let created = row_from_snapshot(&row, &h.snapshot)?;
                    creation_changes(&record_of(&created, &self.config.pii_key)?)
                } else {
                    serde_json::from_str(&h.changes).unwrap_or_default()
                };
                Ok(HistoryEntry {
                    id: h.id,
                    version: h.row_version,
                    at: format_time(h.at),
                    actor_id: h.actor_id,
                    actor: h.actor_name,
                    action: h.action,
                    reason: h.reason,
                    changes,
                })
            })
            .collect()
    }
}

pub(crate) async fn load_customer_types(tx: &mut Tx) -> AppResult<Vec<CustomerType>> {
    if let Some(json) = tx.setting("customer_types").await? {
        if let Ok(types) = serde_json::from_str::<Vec<CustomerType>>(&json) {
            return Ok(types);
        }
    }
    Ok(DEFAULT_CUSTOMER_TYPES
        .iter()
        .map(|(k, zh, en)| CustomerType {
            key: k.to_string(),
            label_zh: zh.to_string(),
            label_en: en.to_string(),
        })
        .collect())
}

/// The customer with this code if it is inside `scope`; a missing customer and one
/// outside the scope answer the same 404.
pub(crate) async fn scoped_customer(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    code: &str,
) -> AppResult<CustomerRow> {
    let code = code.trim().to_ascii_uppercase();
    let row = tx
        .customer_by_code(&code)
        .await?
        .ok_or_else(|| AppError::not_found("customer", &code))?;
    if !in_scope(tx, actor, scope, &row).await? {
        return Err(AppError::not_found("customer", &code));
    }
    Ok(row)
}

/// Is a customer inside the caller's data scope?
pub(crate) async fn in_scope(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    row: &CustomerRow,
) -> AppResult<bool> {
    owner_in_scope(tx, actor, scope, row.owner_id, row.department_id).await
}

/// Does a record owned by `owner_id` in `owner_department` fall inside the caller's scope?
/// One rule for reads (`in_scope`) and for choosing an owner on writes.
async fn owner_in_scope(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    owner_id: Option<i64>,
    owner_department: Option<i64>,
) -> AppResult<bool> {
    let own = owner_id == Some(actor.user_id);
    Ok(match scope {
        Scope::All => true,
        Scope::Own => own,
        Scope::Department => {
            own || match (actor.department_id, owner_department) {
                (Some(mine), Some(theirs)) => tx.department_subtree(mine).await?.contains(&theirs),
                _ => false,
            }
        }
    })
}

async fn check_owner_in_scope(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    owner_id: i64,
    owner_department: Option<i64>,
) -> AppResult<()> {
    let ok = owner_in_scope(tx, actor, scope, Some(owner_id), owner_department).await?;
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(
            "owner_id",
            Violation::new(
                "owner.out_of_scope",
                format!("负责人 {owner_id} 不在您的数据范围内"),
                format!("owner {owner_id} is outside your data scope"),
            ),
        ))
    }
}

/// A stored customer as the API shows it (imports' sampling, exports).
pub(crate) fn view_of(row: &CustomerRow, key: &PiiKey, reveal: bool) -> AppResult<CustomerView> {
    Ok(view(row, &record_of(row, key)?, reveal))
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

    use crate::test_support::app_with_admin;

    fn company(name: &str) -> NewCustomer {
        NewCustomer {
            customer_type: "enterprise".into(),
            name: name.into(),
            region_code: Some("310104".into()),
            mobile: Some("13800138000".into()),
            ..Default::default()
        }
    }

    /// Work checked before the transaction is not trusted once the catalog changed: a
    /// field made required in between is still enforced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checked_work_is_redone_when_the_catalog_changed() {
        let (app, admin, _dir) = app_with_admin().await;
        // Nothing is checked ahead before a write transaction read the reference data.
        assert!(app
            .check_new(&admin, &company("先行校验甲有限公司"))
            .is_none());
        app.create_customers(&admin, vec![company("先行校验甲有限公司")])
            .await
            .unwrap();
        let mut input = company("远航校验乙有限公司");
        input.mobile = Some("13912345678".into());
        let checked = app.check_new(&admin, &input);
        assert!(checked.is_some());
        let mut def = app
            .list_fields(&admin)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.key == "industry")
            .expect("built-in industry field");
        def.key = "contract_no".into();
        def.label_zh = "合同编号".into();
        def.label_en = "Contract number".into();
        def.field_type = crate::fields::FieldType::Text;
        def.allowed_values = Vec::new();
        def.required_for = vec!["enterprise".into()];
        app.put_field(&admin, def).await.unwrap();
        match app.create_checked(&admin, vec![(input, checked)]).await {
            Err(AppError::Validation(fields)) => {
                assert!(
                    fields.iter().any(|f| f.field.contains("contract_no")),
                    "{fields:?}"
                );
            }
            other => panic!("expected the new required field to be enforced: {other:?}"),
        }
    }

    /// A bulk job in a new process checks its first batch ahead too: the reference data
    /// are read before any write transaction, and the work done with them is accepted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reference_settled_before_the_first_batch() {
        let (app, admin, _dir) = app_with_admin().await;
        let input = company("首批先行校验有限公司");
        assert!(app.check_new(&admin, &input).is_none());
        app.settle_reference().await.unwrap();
        let checked = app.check_new(&admin, &input);
        assert!(checked.is_some(), "first batch not checked ahead");
        let codes = app
            .create_checked(&admin, vec![(input, checked)])
            .await
            .unwrap();
        assert_eq!(codes.len(), 1);
        // Settling again keeps what the transaction saw (same reference, same copy).
        app.settle_reference().await.unwrap();
        assert!(app
            .check_new(&admin, &company("第二批先行校验有限公司"))
            .is_some());
    }

    /// A creation from checked work stores exactly what the creation inside the
    /// transaction stores.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checked_and_unchecked_creations_store_the_same() {
        let (app, admin, _dir) = app_with_admin().await;
        app.create_customers(&admin, vec![company("预热客户有限公司")])
            .await
            .unwrap();
        let mut a = company(" 上海　启明比较（甲）有限公司 ");
        a.former_names = vec!["上海启明旧名有限公司".into()];
        a.tags = vec!["重点".into()];
        a.mobile = Some("+86 139 0013 9001".into());
        let mut b = a.clone();
        b.name = " 上海　远航测算（乙）有限公司 ".into();
        b.former_names = vec!["上海远航旧名有限公司".into()];
        b.mobile = Some("+86 137 2468 1357".into());
        let checked = app.check_new(&admin, &b);
        assert!(checked.is_some());
        let codes = app
            .create_checked(&admin, vec![(a, None), (b, checked)])
            .await
            .unwrap();
        let mut tx = app.db.begin_read().await.unwrap();
        let ra = tx.customer_by_code(&codes[0]).await.unwrap().unwrap();
        let rb = tx.customer_by_code(&codes[1]).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        let key = &app.config.pii_key;
        let (va, mut vb) = (record_of(&ra, key).unwrap(), record_of(&rb, key).unwrap());
        assert_eq!(vb.name, "上海 远航测算(乙)有限公司");
        assert_eq!(vb.mobile.as_deref(), Some("13724681357"));
        vb.name = va.name.clone();
        vb.mobile = va.mobile.clone();
        vb.former_names = va.former_names.clone();
        assert_eq!(
            serde_json::to_value(&va).unwrap(),
            serde_json::to_value(&vb).unwrap()
        );
        // Its index rows are written: found by name, by mobile (blind index) and by the
        // duplicate check (match keys).
        let by_name = app
            .search_customers(
                &admin,
                crate::search::CustomerQuery {
                    name: Some("远航测算(乙)".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(by_name.items.len(), 1);
        assert_eq!(by_name.items[0].code, codes[1]);
        let by_mobile = app
            .search_customers(
                &admin,
                crate::search::CustomerQuery {
                    mobile: Some("13724681357".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(by_mobile.items.len(), 1);
        let report = app
            .check_duplicates(&admin, company("上海远航测算（乙）有限公司"))
            .await
            .unwrap();
        assert_eq!(
            report.candidates.first().map(|c| c.code.clone()),
            Some(codes[1].clone())
        );
    }
}
