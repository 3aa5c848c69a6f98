//! Cross-references (xref): an external system's own id for a customer (CRM, ERP, OA, BI).
//! A (system, source id) pair names at most one customer; a customer has at most one id
//! per system.

use crate::sources::Sources;
use serde::{Deserialize, Serialize};

use custos_core::normalize::normalize_text;
use custos_core::Violation;
use custos_store::customer_master::XrefRow;
use custos_store::{now_us, CustomerRow, StoreError, Tx};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::customers::{in_scope, scoped_customer};
use crate::error::{AppError, AppResult};
use crate::to_json;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct XrefInput {
    pub source_id: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct XrefView {
    pub system: String,
    pub source_id: String,
    pub code: String,
    pub created_at: String,
}

/// A source system's name: 1–32 lower-case letters, digits, `_` or `-` (trimmed, folded
/// to lower case).
pub fn check_system(system: &str) -> AppResult<String> {
    let s = system.trim().to_ascii_lowercase();
    let ok = (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(s)
    } else {
        Err(AppError::validation(
            "system",
            Violation::new(
                "xref.system",
                format!("外部系统标识“{system}”应为 1–32 位小写字母、数字、_ 或 -"),
                format!("system '{system}' must be 1–32 lower-case letters, digits, _ or -"),
            ),
        ))
    }
}

pub(crate) fn check_source_id(source_id: &str) -> AppResult<String> {
    let s = normalize_text(source_id);
    if s.is_empty() || s.chars().count() > 128 {
        return Err(AppError::validation(
            "source_id",
            Violation::new(
                "xref.source_id",
                format!("外部系统编号应为 1–128 个字符（{s}）"),
                format!("source_id must have 1–128 characters ({s})"),
            ),
        ));
    }
    Ok(s)
}

/// A (system, source id) pair that already names another customer.
pub(crate) fn xref_taken(system: &str, source_id: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "xref.taken",
        format!("系统“{system}”的编号“{source_id}”已对应其他客户"),
        format!("'{source_id}' of system '{system}' already belongs to another customer"),
    ))
}

async fn customer_in_scope(
    tx: &mut Tx,
    actor: &Actor,
    permission: &str,
    code: &str,
) -> AppResult<CustomerRow> {
    let scope = actor.require(permission)?;
    scoped_customer(tx, actor, scope, code).await
}

impl Sources<'_> {
    /// Link a customer to a system's id (`xref.manage`), replacing its previous id there.
    pub async fn put_xref(
        &self,
        actor: &Actor,
        code: &str,
        system: &str,
        input: impl Into<crate::input::Input<XrefInput>>,
    ) -> AppResult<XrefView> {
        actor.require("xref.manage")?;
        let input = input.into().get()?;
        let system = check_system(system)?;
        let source_id = check_source_id(&input.source_id)?;
        let mut tx = self.app.db.begin().await?;
        let row = customer_in_scope(&mut tx, actor, "xref.manage", code).await?;
        if let Some(other) = tx.xref_by_source(&system, &source_id).await? {
            if other.customer_id != row.id {
                return Err(xref_taken(&system, &source_id));
            }
        }
        let before = tx
            .xrefs_of(row.id)
            .await?
            .into_iter()
            .find(|x| x.system == system);
        let x = XrefRow {
            customer_id: row.id,
            system: system.clone(),
            source_id: source_id.clone(),
            created_at: now_us(),
            created_by: Some(actor.user_id),
        };
        match tx.put_xref(&x).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => return Err(xref_taken(&system, &source_id)),
            Err(e) => return Err(e.into()),
        }
        let mut r = record(actor, "customer.xref_put", "customer", &row.code);
        r.before = before
            .map(|b| serde_json::json!({"system": b.system, "source_id": b.source_id}).to_string());
        r.after = to_json(&serde_json::json!({"system": system, "source_id": source_id}));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(XrefView {
            system,
            source_id,
            code: row.code,
            created_at: format_time(x.created_at),
        })
    }

    /// Remove a customer's id in a system (`xref.manage`).
    pub async fn delete_xref(&self, actor: &Actor, code: &str, system: &str) -> AppResult<()> {
        actor.require("xref.manage")?;
        let system = check_system(system)?;
        let mut tx = self.app.db.begin().await?;
        let row = customer_in_scope(&mut tx, actor, "xref.manage", code).await?;
        let before = tx
            .xrefs_of(row.id)
            .await?
            .into_iter()
            .find(|x| x.system == system)
            .ok_or_else(|| AppError::not_found("xref", format!("{}/{system}", row.code)))?;
        tx.delete_xref(row.id, &system).await?;
        let mut r = record(actor, "customer.xref_delete", "customer", &row.code);
        r.before = to_json(&serde_json::json!({"system": system, "source_id": before.source_id}));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A customer's ids in other systems (`customer.read`).
    pub async fn list_xrefs(&self, actor: &Actor, code: &str) -> AppResult<Vec<XrefView>> {
        let mut tx = self.app.db.begin_read().await?;
        let row = customer_in_scope(&mut tx, actor, "customer.read", code).await?;
        let rows = tx.xrefs_of(row.id).await?;
        tx.rollback().await?;
        Ok(rows
            .into_iter()
            .map(|x| XrefView {
                system: x.system,
                source_id: x.source_id,
                code: row.code.clone(),
                created_at: format_time(x.created_at),
            })
            .collect())
    }

    /// The customer code for a system's id (`customer.read`; out of scope = 404).
    pub async fn lookup_xref(
        &self,
        actor: &Actor,
        system: &str,
        source_id: &str,
    ) -> AppResult<XrefView> {
        let scope = actor.require("customer.read")?;
        let system = check_system(system)?;
        let source_id = check_source_id(source_id)?;
        let mut tx = self.app.db.begin_read().await?;
        let missing = || AppError::not_found("xref", format!("{system}/{source_id}"));
        let x = tx
            .xref_by_source(&system, &source_id)
            .await?
            .ok_or_else(missing)?;
        let row = tx.customer(x.customer_id).await?.ok_or_else(missing)?;
        if !in_scope(&mut tx, actor, scope, &row).await? {
            return Err(missing());
        }
        tx.rollback().await?;
        Ok(XrefView {
            system,
            source_id,
            code: row.code,
            created_at: format_time(x.created_at),
        })
    }
}
