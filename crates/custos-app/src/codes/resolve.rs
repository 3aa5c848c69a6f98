//! Resolving a code an ERP document still carries: the customer's code today, after code
//! changes (变更编码) and merges (合并).

use crate::codes::Codes;
use serde::Serialize;

use super::validation::parse_code;
use crate::actor::Actor;
use crate::customers::in_scope;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResolvedCode {
    /// The code asked about.
    pub code: String,
    /// The code of the customer that holds it today.
    pub current_code: String,
    /// That customer's status (`active`, `retired`, `archived`, …).
    pub status: String,
    pub name: String,
    /// Status of the code asked about in the registry (`active`, `changed`, `merged`,
    /// `retired`, …).
    pub code_status: String,
    /// The customer the code was issued to was merged into another.
    pub merged: bool,
    /// The code was replaced by a new code of the same customer.
    pub code_changed: bool,
}

impl Codes<'_> {
    /// `GET /codes/{code}/resolve` (`customer.read`): the current code for an old one. A
    /// code never issued, or whose customer today lies outside the caller's scope,
    /// answers the same 404.
    pub async fn resolve_code(&self, actor: &Actor, code: &str) -> AppResult<ResolvedCode> {
        let scope = actor.require("customer.read")?;
        let code = parse_code(code)?;
        let missing = || AppError::not_found("code", &code);
        let mut tx = self.app.db.begin_read().await?;
        let reg = tx.code(&code).await?.ok_or_else(missing)?;
        let issued_to = reg.customer_id.ok_or_else(missing)?;
        let first = tx.customer(issued_to).await?.ok_or_else(missing)?;
        let home = crate::hierarchy::home_of(&mut tx, issued_to).await?;
        let row = if home == issued_to {
            first.clone()
        } else {
            tx.customer(home).await?.ok_or_else(missing)?
        };
        if !in_scope(&mut tx, actor, scope, &row).await? {
            return Err(missing());
        }
        tx.rollback().await?;
        Ok(ResolvedCode {
            current_code: row.code.clone(),
            status: row.status.clone(),
            name: row.name.clone(),
            code_status: reg.status,
            merged: home != issued_to,
            code_changed: first.code != code,
            code,
        })
    }
}
