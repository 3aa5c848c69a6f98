//! A row and the customers already stored: the customer it updates (by code or
//! source-system id), the change it carries, and its source-system id.

use crate::import::Imports;
use custos_core::{FieldError, Violation};
use custos_store::{CustomerRow, Tx};

use super::mapping;
use crate::actor::Actor;
use crate::customers::{CustomerPatch, NewCustomer};
use crate::error::{AppError, AppResult};
use crate::xref::{check_source_id, check_system};

pub(super) enum Existing {
    None,
    Found(Box<CustomerRow>),
    Missing(FieldError),
}

/// A change carrying the row's non-empty values (empty cells leave fields as they are).
pub(super) fn patch_of(n: NewCustomer, version: i64) -> CustomerPatch {
    CustomerPatch::from_new(n, version)
}

impl Imports<'_> {
    /// Whether the actor's `customer.update` scope covers this customer (the update use
    /// case inside a transaction leaves that decision to its caller).
    pub(super) async fn may_update(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
    ) -> AppResult<bool> {
        match actor.require("customer.update") {
            Ok(scope) => crate::customers::in_scope(tx, actor, scope, row).await,
            Err(_) => Ok(false),
        }
    }

    /// The source system and id of a row, when it has both.
    pub(super) fn row_xref(
        &self,
        map: &mapping::ColumnMap,
        cells: &[String],
    ) -> Option<(String, String)> {
        let id = map.value(cells, "source_id")?;
        let system = map
            .value(cells, "source_system")
            .or_else(|| map.spec.source_system.clone())?;
        Some((system, id))
    }

    /// The customer a row updates: by code, else by source-system id.
    pub(super) async fn existing_of(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        map: &mapping::ColumnMap,
        cells: &[String],
        xref: &Option<(String, String)>,
    ) -> AppResult<Existing> {
        if let Some(code) = map.value(cells, "code") {
            let code = code.trim().to_ascii_uppercase();
            let found = match tx.customer_by_code(&code).await? {
                Some(r) if self.may_update(tx, actor, &r).await? => Some(r),
                _ => None,
            };
            return Ok(match found {
                Some(r) => Existing::Found(Box::new(r)),
                None => Existing::Missing(
                    Violation::new(
                        "customer.not_found",
                        format!("客户编码“{code}”不存在，无法更新"),
                        format!("customer code '{code}' does not exist; nothing to update"),
                    )
                    .on("code"),
                ),
            });
        }
        if let Some((system, id)) = xref {
            let (Ok(system), Ok(id)) = (check_system(system), check_source_id(id)) else {
                return Ok(Existing::None);
            };
            if let Some(x) = tx.xref_by_source(&system, &id).await? {
                if let Some(r) = tx.customer(x.customer_id).await? {
                    if self.may_update(tx, actor, &r).await? {
                        return Ok(Existing::Found(Box::new(r)));
                    }
                }
            }
        }
        Ok(Existing::None)
    }

    /// Record the row's source-system id for a customer it created (same checks and
    /// audit as `put_xref`).
    pub(super) async fn put_import_xref(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
        system: &str,
        source_id: &str,
    ) -> AppResult<()> {
        let system = check_system(system).map_err(|e| tag_field(e, "source_system"))?;
        let source_id = check_source_id(source_id).map_err(|e| tag_field(e, "source_id"))?;
        self.app
            .sources()
            .put_source_xref(tx, actor, row, &system, &source_id)
            .await
            .map_err(|e| match e {
                AppError::Conflict(v) if v.code == "xref.taken" => {
                    AppError::validation("source_id", v)
                }
                e => e,
            })
    }
}

fn tag_field(e: AppError, field: &str) -> AppError {
    match e {
        AppError::Validation(v) => AppError::Validation(
            v.into_iter()
                .map(|f| FieldError {
                    field: field.to_string(),
                    violation: f.violation,
                })
                .collect(),
        ),
        other => other,
    }
}
