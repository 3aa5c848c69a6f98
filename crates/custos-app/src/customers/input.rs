//! A customer as submitted: the input of a creation, of a change and of a contact change.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

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

impl CustomerPatch {
    /// A change carrying a full record's non-empty values: absent or empty fields leave
    /// the stored ones as they are (an import row, a source system's upsert).
    pub fn from_new(n: NewCustomer, version: i64) -> CustomerPatch {
        let some = |v: Option<String>| v.map(Some);
        CustomerPatch {
            version,
            override_duplicates: false,
            reason: n.reason,
            customer_type: Some(n.customer_type).filter(|s| !s.is_empty()),
            name: Some(n.name).filter(|s| !s.is_empty()),
            short_name: some(n.short_name),
            former_names: Some(n.former_names).filter(|v| !v.is_empty()),
            uscc: some(n.uscc),
            id_number: some(n.id_number),
            legal_representative: some(n.legal_representative),
            established_on: some(n.established_on),
            registered_capital: n.registered_capital.map(Some),
            industry: some(n.industry),
            scale: some(n.scale),
            level: some(n.level),
            source: some(n.source),
            region_code: some(n.region_code),
            address: some(n.address),
            postal_code: some(n.postal_code),
            phone: some(n.phone),
            mobile: some(n.mobile),
            email: some(n.email),
            website: some(n.website),
            owner_id: n.owner_id,
            department_id: n.department_id.map(Some),
            status: n.status,
            tags: Some(n.tags).filter(|v| !v.is_empty()),
            credit_rating: some(n.credit_rating),
            remarks: some(n.remarks),
            contacts: Some(n.contacts).filter(|v| !v.is_empty()),
            custom: Some(n.custom).filter(|m| !m.is_empty()),
        }
    }
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
