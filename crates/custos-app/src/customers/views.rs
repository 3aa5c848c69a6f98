//! Reading a customer: the view the API shows, personal data masked unless the caller may
//! read it (and then the read is audited).

use crate::customers::Customers;
use custos_core::{industry, region};
use custos_store::{CustomerRow, Tx};
use serde::Serialize;
use serde_json::{Map, Value};

use super::duplicates;
use super::history::row_from_snapshot;
use super::masking::{has_pii, masked};
use super::record::{OptionalText, Record};
use super::scope::scoped_customer;
use super::stored::record_of;
use super::values::CustomerStatus;
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;
use crate::to_json;

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

pub(crate) fn view(row: &CustomerRow, rec: &Record, reveal: bool) -> CustomerView {
    let names = rec.region_code.as_deref().and_then(region::names);
    let ind = rec.is_individual();
    let show = |f: &str, v: &dyn OptionalText| -> Option<String> {
        v.text().map(|s| {
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
        status: rec.status.as_str().to_string(),
        uscc: rec.uscc.text().map(str::to_string),
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
        scale: rec.scale.text().map(str::to_string),
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

/// A stored customer as the API shows it (imports' sampling, exports).
pub(crate) fn view_of(row: &CustomerRow, key: &PiiKey, reveal: bool) -> AppResult<CustomerView> {
    Ok(view(row, &record_of(row, key)?, reveal))
}

impl Customers<'_> {
    /// Whether this caller sees personal data in clear; when so (and there is any), the
    /// read is audited in `tx`.
    pub(super) async fn reveal(
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
        self.read_customer(actor, code, as_of, Disclosure::AsPermitted)
            .await
    }

    /// Personal data of a customer in clear, for someone holding `customer.pii.read`
    /// who says why (the reason is kept in the audit log with the read).
    pub async fn reveal_customer_pii(
        &self,
        actor: &Actor,
        code: &str,
        reason: &str,
    ) -> AppResult<CustomerView> {
        actor.require("customer.read")?;
        actor.require("customer.pii.read")?;
        let reason = reveal_reason(reason)?;
        self.read_customer(actor, code, None, Disclosure::Reveal(reason))
            .await
    }

    /// A customer read as `disclosure` says (see [`Disclosure`]).
    pub(crate) async fn read_customer(
        &self,
        actor: &Actor,
        code: &str,
        as_of: Option<i64>,
        disclosure: Disclosure,
    ) -> AppResult<CustomerView> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let current = scoped_customer(&mut tx, actor, scope, code).await?;
        crate::customers::check_archive_readable(actor, &current)?;
        let survivor = match CustomerStatus::of(&current.status) {
            Some(CustomerStatus::Merged) => match tx.merged_into(current.id).await? {
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
        let rec = record_of(&row, &self.app.config.pii_key)?;
        let reveal = match disclosure {
            Disclosure::Masked => false,
            Disclosure::AsPermitted if !(actor.can("customer.pii.read") && has_pii(&rec)) => {
                actor.can("customer.pii.read")
            }
            Disclosure::AsPermitted => {
                let mut tx = self.app.db.begin().await?;
                let reveal = self.reveal(&mut tx, actor, &row, &rec).await?;
                tx.commit().await?;
                reveal
            }
            Disclosure::Reveal(reason) => {
                let mut tx = self.app.db.begin().await?;
                let mut r = record(actor, "customer.pii_read", "customer", &row.code);
                r.after = to_json(&serde_json::json!({ "version": row.row_version }));
                r.reason = Some(reason);
                append(&mut tx, r).await?;
                tx.commit().await?;
                true
            }
        };
        let mut v = view(&row, &rec, reveal);
        v.as_of = as_of.map(format_time);
        v.merged_into = survivor;
        Ok(v)
    }
}

/// How a read shows personal data.
pub(crate) enum Disclosure {
    /// In clear for callers holding `customer.pii.read` (the read audited), else masked:
    /// the API's reads.
    AsPermitted,
    /// Masked for everyone (pages that reveal on request only).
    Masked,
    /// In clear, audited with the reason given (the caller checked the permission).
    Reveal(String),
}

/// Most characters of the reason for a reveal.
const MAX_REVEAL_REASON: usize = 500;

fn reveal_reason(reason: &str) -> AppResult<String> {
    crate::text_input::refuse_single_line([("reason", Some(reason))])?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::validation(
            "reason",
            custos_core::Violation::new(
                "reason.required",
                "查看完整个人信息须填写原因",
                "say why you need to see the personal data in full",
            ),
        ));
    }
    if reason.chars().count() > MAX_REVEAL_REASON {
        return Err(AppError::validation(
            "reason",
            custos_core::Violation::new(
                "reason.too_long",
                format!("原因最多 {MAX_REVEAL_REASON} 个字符"),
                format!("the reason may have at most {MAX_REVEAL_REASON} characters"),
            ),
        ));
    }
    Ok(reason.to_string())
}
