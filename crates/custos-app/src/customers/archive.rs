//! Who reads an archived customer (归档): archive managers always, others only through an
//! approved retrieval (`applications/kinds/retrieve.rs`). Every read path asks here.

use custos_store::CustomerRow;

use crate::actor::Actor;
use crate::error::{AppError, AppResult};

/// Archived customers are hidden from normal search and reads, except for archive
/// managers (`customer.retire`); others read them through an approved retrieval.
pub(crate) fn archive_hidden_from(actor: &Actor) -> bool {
    !actor.can("customer.retire")
}

/// Refuse a normal read of an archived customer, pointing to the retrieval path.
pub(crate) fn check_archive_readable(actor: &Actor, row: &CustomerRow) -> AppResult<()> {
    if crate::customers::CustomerStatus::Archived.is(&row.status) && archive_hidden_from(actor) {
        return Err(AppError::Forbidden {
            permission: format!(
                "retrieve {}（客户已归档，须经批准的调阅申请后在 /api/v1/archive/{} 查看 / archived: read it at /api/v1/archive/{} after an approved retrieve application）",
                row.code, row.code, row.code
            ),
        });
    }
    Ok(())
}
