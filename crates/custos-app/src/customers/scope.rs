//! Data scope: which customers a caller may see, and which owners they may choose.

use custos_core::Violation;
use custos_store::customer_master::ScopeFilter;
use custos_store::{CustomerRow, Tx};

use crate::actor::{Actor, Scope};
use crate::error::{AppError, AppResult};

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
pub(crate) async fn owner_in_scope(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    owner_id: Option<i64>,
    owner_department: Option<i64>,
) -> AppResult<bool> {
    Ok(scope_filter(tx, actor, scope)
        .await?
        .admits(owner_id, owner_department))
}

/// The caller's data scope as a filter: for the SQL of lists, and for records read one
/// by one ([`ScopeFilter::admits`]); the department subtree is read once.
pub(crate) async fn scope_filter(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
) -> AppResult<ScopeFilter> {
    Ok(match scope {
        Scope::All => ScopeFilter::All,
        Scope::Own => ScopeFilter::Own(actor.user_id),
        Scope::Department => match actor.department_id {
            Some(d) => ScopeFilter::Departments(actor.user_id, tx.department_subtree(d).await?),
            None => ScopeFilter::Own(actor.user_id),
        },
    })
}

pub(super) async fn check_owner_in_scope(
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
