//! Customer types and the field catalog: the reference data every validation reads, loaded
//! once per write, and kept for work done before a transaction.

use crate::customers::Customers;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use custos_core::Violation;
use custos_store::Tx;

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};
use crate::to_json;

/// Customer types when an administrator has configured none.
pub const DEFAULT_CUSTOMER_TYPES: &[(&str, &str, &str)] = &[
    ("enterprise", "企业客户", "Enterprise"),
    ("individual", "个人客户", "Individual"),
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CustomerType {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
}

/// Everything validation needs from the database, loaded once per write.
#[derive(PartialEq)]
pub(crate) struct Reference {
    pub(super) types: Vec<CustomerType>,
    pub(super) custom: Vec<crate::fields::FieldDefinition>,
}

impl Reference {
    /// Custom fields required for some customer type: (key, labels, types), for the
    /// completeness rules of data quality.
    pub(crate) fn required_custom(&self) -> Vec<(String, String, String, Vec<String>)> {
        self.custom
            .iter()
            .filter(|d| !d.required_for.is_empty())
            .map(|d| {
                let (k, zh, en) = (d.key.clone(), d.label_zh.clone(), d.label_en.clone());
                (k, zh, en, d.required_for.clone())
            })
            .collect()
    }
}

/// The [`Reference`] the last write transaction read, shared so that work done before a
/// transaction can be checked against what the transaction sees (see
/// [`Checked`](super::Checked)).
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

    pub(crate) fn latest(&self) -> Option<Arc<Reference>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Customers<'_> {
    /// Configured customer types (settings key `customer_types`).
    pub async fn customer_types(&self) -> AppResult<Vec<CustomerType>> {
        let mut tx = self.app.db.begin_read().await?;
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
        let mut tx = self.app.db.begin().await?;
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

    /// Read the reference data (customer types, field catalog) in a read transaction if
    /// no transaction has yet, so that [`Customers::check_new`] works from a bulk job's first
    /// batch on; otherwise a new process validates its first batch (up to tens of
    /// thousands of rows) inside the write transaction, and its duplicate read-ahead
    /// misses every key. A creation still uses the work only if its own transaction reads
    /// equal reference data.
    pub(crate) async fn settle_reference(&self) -> AppResult<()> {
        if self.app.reference_seen.latest().is_some() {
            return Ok(());
        }
        let mut tx = self.app.db.begin_read().await?;
        let reference = self.reference(&mut tx).await?;
        tx.rollback().await?;
        self.app.reference_seen.settle(reference);
        Ok(())
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
