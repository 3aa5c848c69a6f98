//! The batch form of the upsert by source key, for nightly syncs: up to
//! [`MAX_BATCH_ITEMS`] customers of one system per request, each item all-or-nothing in
//! its own transaction, a result per item.

use crate::sources::Sources;
use serde::{Deserialize, Serialize};

use custos_core::violation::Lang;
use custos_core::FieldError;

use super::UpsertResult;
use crate::actor::Actor;
use crate::customers::NewCustomer;
use crate::error::{AppError, AppResult};

/// Most items one batch may carry.
pub const MAX_BATCH_ITEMS: usize = 1000;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceBatch {
    pub items: Vec<BatchItem>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    pub source_id: String,
    pub customer: NewCustomer,
}

/// Why one item was not applied (nothing of it was written).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    /// The HTTP status the single upsert would have answered.
    pub status: u16,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<FieldError>,
}

impl From<&AppError> for ItemError {
    fn from(e: &AppError) -> Self {
        ItemError {
            status: e.status(),
            code: e.code(),
            message_zh: e.detail(Lang::Zh),
            message_en: e.detail(Lang::En),
            fields: match e {
                AppError::Validation(f) => f.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// One item's result: `result` when applied, `error` when not.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchItemResult {
    pub index: usize,
    pub source_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<UpsertResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

impl Sources<'_> {
    /// `POST /sources/{system}/customers/batch`: [`Sources::upsert_from_source`] for each
    /// item in order. A refused item does not stop the others; an error of the whole
    /// request (permission, system name, too many items) comes before any item runs.
    pub async fn upsert_batch_from_source(
        &self,
        actor: &Actor,
        system: &str,
        batch: impl Into<crate::input::Input<SourceBatch>>,
    ) -> AppResult<Vec<BatchItemResult>> {
        actor.require("xref.manage")?;
        let batch = batch.into().get()?;
        crate::xref::check_system(system)?;
        if batch.items.is_empty() || batch.items.len() > MAX_BATCH_ITEMS {
            return Err(AppError::validation(
                "items",
                custos_core::Violation::new(
                    "source.batch_size",
                    format!("每批 1–{MAX_BATCH_ITEMS} 条，本批 {} 条", batch.items.len()),
                    format!(
                        "a batch holds 1–{MAX_BATCH_ITEMS} items; this one has {}",
                        batch.items.len()
                    ),
                ),
            ));
        }
        let mut out = Vec::with_capacity(batch.items.len());
        for (index, item) in batch.items.into_iter().enumerate() {
            let answer = self
                .upsert_from_source(actor, system, &item.source_id, item.customer)
                .await;
            let (result, error) = match answer {
                Ok(r) => (Some(r), None),
                Err(e) => {
                    if let AppError::Internal(cause) = &e {
                        tracing::error!(index, %cause, "source batch item failed");
                    }
                    (None, Some(ItemError::from(&e)))
                }
            };
            out.push(BatchItemResult {
                index,
                source_id: item.source_id,
                result,
                error,
            });
        }
        Ok(out)
    }
}
