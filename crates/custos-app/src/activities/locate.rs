//! The customer a record is read or written through: found in the caller's scope, or the
//! survivor's code when it was merged, and whether it still takes new records. Every kind
//! of record starts here.

use custos_store::{CustomerRow, Tx};

use crate::actor::Actor;
use crate::customers::{in_scope, scoped_customer, CustomerStatus};
use crate::error::{AppError, AppResult};

/// The answer for a customer code: the customer's records, or the code of the customer
/// it was merged into (the API redirects there).
#[derive(Debug, Clone)]
pub enum Located<T> {
    Here(T),
    Moved { survivor: String },
}

impl<T> Located<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Located<U> {
        match self {
            Located::Here(t) => Located::Here(f(t)),
            Located::Moved { survivor } => Located::Moved { survivor },
        }
    }
}

/// The customer with this code as a caller holding `permission` may reach it: inside its
/// scope for both `customer.read` and `permission` (else the customer endpoints' 404), or
/// the survivor's code when it was merged.
pub(crate) async fn locate(
    tx: &mut Tx,
    actor: &Actor,
    permission: &str,
    code: &str,
) -> AppResult<Located<CustomerRow>> {
    let own = actor.require(permission)?;
    let read = actor.require("customer.read")?;
    let row = scoped_customer(tx, actor, read, code).await?;
    if !in_scope(tx, actor, own, &row).await? {
        return Err(AppError::not_found("customer", &row.code));
    }
    crate::customers::check_archive_readable(actor, &row)?;
    if CustomerStatus::Merged.is(&row.status) {
        if let Some(id) = tx.merged_into(row.id).await? {
            if let Some(s) = tx.customer(id).await? {
                return Ok(Located::Moved { survivor: s.code });
            }
        }
    }
    Ok(Located::Here(row))
}

/// Records are added only to customers that are still in use.
pub(crate) fn check_writable(row: &CustomerRow) -> AppResult<()> {
    if CustomerStatus::editable(&row.status) {
        return Ok(());
    }
    Err(AppError::Rejected(custos_core::Violation::new(
        "activity.customer_closed",
        format!(
            "客户“{}”状态为 {}，不能再登记业务记录",
            row.code, row.status
        ),
        format!(
            "customer '{}' is {}: no business records can be added to it",
            row.code, row.status
        ),
    )))
}
