//! Changing a customer: a patch, or a contact added, changed or removed. Optimistic on the
//! version, a reason for major fields, the whole record re-validated, history and audit
//! in the same transaction.

use crate::customers::Customers;
use chrono::NaiveDate;

use custos_core::{FieldError, Violation};
use custos_store::customer_master::HistoryRow;
use custos_store::{now_us, AuditRecord, CustomerRow, Tx};
use serde_json::{Map, Value};

use super::checks::typed_text;
use super::duplicates;
use super::history::{diff, history_entry, FieldChange};
use super::indexes::indexes_with;
use super::input::{ContactInput, ContactPatch, CustomerPatch};
use super::lookups::Lookups;
use super::record::{apply_patch, contact_record, Draft, Record, MAJOR_FIELDS};
use super::scope::{check_owner_in_scope, scoped_customer};
use super::stored::{record_of, with_record};
use super::validation::validate;
use super::values::CustomerStatus;
use super::views::{view, CustomerView};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::codes::issue_date;
use crate::error::{AppError, AppResult};
use crate::to_json;

impl Customers<'_> {
    /// Change a customer (`customer.update`): optimistic on `version`, a reason for major
    /// fields, the whole record re-validated, history and audit in the same transaction.
    pub async fn update_customer(
        &self,
        actor: &Actor,
        code: &str,
        patch: CustomerPatch,
    ) -> AppResult<CustomerView> {
        let reason = patch.reason.clone();
        let override_duplicates = patch.override_duplicates;
        self.change_customer(
            actor,
            code,
            Some(patch.version),
            reason,
            override_duplicates,
            "update",
            |rec| {
                apply_patch(rec, &patch);
                Ok(())
            },
        )
        .await
    }

    /// Add a contact.
    pub async fn add_contact(
        &self,
        actor: &Actor,
        code: &str,
        input: ContactInput,
    ) -> AppResult<CustomerView> {
        self.change_customer(actor, code, None, None, false, "contact.add", |rec| {
            let id = rec.contacts.iter().map(|c| c.id).max().unwrap_or(0) + 1;
            if input.is_primary == Some(true) {
                for c in &mut rec.contacts {
                    c.is_primary = false;
                }
            }
            rec.contacts.push(contact_record(&input, id));
            Ok(())
        })
        .await
    }

    /// Change a contact.
    pub async fn update_contact(
        &self,
        actor: &Actor,
        code: &str,
        contact_id: i64,
        p: ContactPatch,
    ) -> AppResult<CustomerView> {
        let reason = p.reason.clone();
        self.change_customer(actor, code, None, reason, false, "contact.update", |rec| {
            if !rec.contacts.iter().any(|c| c.id == contact_id) {
                return Err(AppError::not_found("contact", contact_id));
            }
            if p.is_primary == Some(true) {
                for c in &mut rec.contacts {
                    c.is_primary = false;
                }
            }
            if let Some(c) = rec.contacts.iter_mut().find(|c| c.id == contact_id) {
                if let Some(n) = &p.name {
                    c.name = n.clone();
                }
                if let Some(v) = &p.title {
                    c.title = v.clone();
                }
                if let Some(v) = &p.mobile {
                    c.mobile = v.clone();
                }
                if let Some(v) = &p.phone {
                    c.phone = v.clone();
                }
                if let Some(v) = &p.email {
                    c.email = v.clone();
                }
                if let Some(v) = p.is_primary {
                    c.is_primary = v;
                }
            }
            Ok(())
        })
        .await
    }

    /// Remove a contact.
    pub async fn delete_contact(
        &self,
        actor: &Actor,
        code: &str,
        contact_id: i64,
    ) -> AppResult<CustomerView> {
        self.change_customer(actor, code, None, None, false, "contact.delete", |rec| {
            let before = rec.contacts.len();
            rec.contacts.retain(|c| c.id != contact_id);
            if rec.contacts.len() == before {
                return Err(AppError::not_found("contact", contact_id));
            }
            Ok(())
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_customer(
        &self,
        actor: &Actor,
        code: &str,
        expected_version: Option<i64>,
        reason: Option<String>,
        override_duplicates: bool,
        action: &str,
        mutate: impl FnOnce(&mut Draft) -> AppResult<()>,
    ) -> AppResult<CustomerView> {
        let scope = actor.require("customer.update")?;
        let mut tx = self.app.db.begin().await?;
        let (row, new, possible_duplicates) = self
            .change_customer_in(
                &mut tx,
                actor,
                scope,
                code,
                expected_version,
                reason,
                override_duplicates,
                action,
                mutate,
            )
            .await?;
        let reveal = self.reveal(&mut tx, actor, &row, &new).await?;
        tx.commit().await?;
        let mut v = view(&row, &new, reveal);
        v.possible_duplicates = possible_duplicates;
        Ok(v)
    }

    /// Apply a customer patch inside `tx` on behalf of an approved application (the
    /// caller decided authorisation); same validation, history and audit as an update.
    pub(crate) async fn update_customer_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        code: &str,
        patch: &CustomerPatch,
        action: &str,
    ) -> AppResult<CustomerRow> {
        self.update_customer_scoped_in(tx, actor, Scope::All, code, patch, action)
            .await
    }

    /// Apply a customer patch inside `tx` within the actor's `customer.update` scope
    /// (`scope`): a new owner or department must lie inside it, as for a direct update.
    /// The caller checked that the customer itself is in scope.
    pub(crate) async fn update_customer_scoped_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        scope: Scope,
        code: &str,
        patch: &CustomerPatch,
        action: &str,
    ) -> AppResult<CustomerRow> {
        let reason = patch.reason.clone();
        let (row, _, _) = self
            .change_customer_in(
                tx,
                actor,
                scope,
                code,
                Some(patch.version),
                reason,
                patch.override_duplicates,
                action,
                |rec| {
                    apply_patch(rec, patch);
                    Ok(())
                },
            )
            .await?;
        Ok(row)
    }

    /// Move a customer's cooperation status (its `level`, 客户等级) inside `tx` when
    /// `next` maps the current value to a new one, through the same validation, history
    /// and audit as an update (`action` names the cause). The caller decided
    /// authorisation and scope. Returns whether the customer changed.
    pub(crate) async fn move_cooperation_status_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
        action: &str,
        reason: String,
        next: impl FnOnce(Option<&str>) -> Option<String>,
    ) -> AppResult<bool> {
        if !CustomerStatus::editable(&row.status) {
            return Ok(false);
        }
        let old = record_of(row, &self.app.config.pii_key.pinned())?;
        let Some(level) = next(old.level.as_deref()) else {
            return Ok(false);
        };
        let (after, _, _) = self
            .change_customer_in(
                tx,
                actor,
                Scope::All,
                &row.code,
                None,
                Some(reason),
                true,
                action,
                |rec| {
                    rec.level = Some(level);
                    Ok(())
                },
            )
            .await?;
        Ok(after.row_version != row.row_version)
    }

    /// The body of [`Customers::change_customer`] inside a caller's transaction; returns the
    /// stored row and the record after the change.
    #[allow(clippy::too_many_arguments)]
    async fn change_customer_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        scope: Scope,
        code: &str,
        expected_version: Option<i64>,
        reason: Option<String>,
        override_duplicates: bool,
        action: &str,
        mutate: impl FnOnce(&mut Draft) -> AppResult<()>,
    ) -> AppResult<(CustomerRow, Record, Vec<duplicates::DuplicateCandidate>)> {
        let code = code.trim().to_ascii_uppercase();
        let key = &self.app.config.pii_key.pinned();
        let today = issue_date(self.app.config.code_timezone);
        let row = scoped_customer(tx, actor, scope, &code).await?;
        check_editable(&code, &row, expected_version)?;
        let old = record_of(&row, key)?;
        let mut raw = old.draft();
        mutate(&mut raw)?;
        let (new, reason) = self.validate_change(tx, &old, raw, reason, today).await?;
        let owner_id = new.owner_id.unwrap_or(actor.user_id);
        if new.owner_id != old.owner_id || new.department_id != old.department_id {
            check_owner_in_scope(tx, actor, scope, owner_id, new.department_id).await?;
        }
        // Prepared once: for the duplicate check, the match keys and the candidate cache.
        let prepared = custos_core::matching::prepare(
            &duplicates::match_record(&new),
            issue_date(self.app.config.code_timezone),
        );
        let mut possible_duplicates = Vec::new();
        if duplicates::matching_fields_changed(&old, &new) {
            let (report, blocking) = self
                .duplicates_made_by_change(tx, actor, row.id, &old, &prepared)
                .await?;
            if blocking {
                self.guard_duplicates(actor, &report, override_duplicates, reason.as_deref())?;
            }
            possible_duplicates = report.candidates;
        }
        let changes = diff(&old, &new);
        if changes.is_empty() {
            return Ok((row, new, possible_duplicates));
        }
        let now = now_us();
        let updated = tx
            .update_customer(&with_record(&row, &new, key, now))
            .await?;
        tx.replace_customer_indexes(row.id, &indexes_with(&new, key, &prepared), false)
            .await?;
        self.remember_prepared(&updated, prepared);
        let history = change_history(actor, &updated, action, reason.clone(), &changes, now);
        tx.insert_customer_history(&history).await?;
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        crate::events::emit_customer_event(
            tx,
            actor,
            &updated,
            crate::events::CUSTOMER_UPDATED,
            serde_json::json!({"fields": fields, "action": action}),
        );
        self.app
            .quality()
            .refresh_quality(tx, std::slice::from_ref(&updated))
            .await?;
        append(tx, change_audit(actor, &code, action, &changes, reason)).await?;
        Ok((updated, new, possible_duplicates))
    }

    /// The changed record `raw` validated (owner and department resolved), and the
    /// normalised reason, which a change of a major field requires; all failures together.
    async fn validate_change(
        &self,
        tx: &mut Tx,
        old: &Record,
        mut raw: Draft,
        reason: Option<String>,
        today: NaiveDate,
    ) -> AppResult<(Record, Option<String>)> {
        let mut lookups = Lookups::default();
        let reference = lookups.reference(self.app, tx).await?;
        let mut errors = self
            .resolve_owner(tx, &mut lookups, raw.owner_id, &mut raw.department_id)
            .await?;
        let mut reason_errors = Vec::new();
        let reason = typed_text("reason", reason.as_deref(), 500, &mut reason_errors);
        errors.extend(reason_errors);
        let new = match validate(raw, today, &reference) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        if let Some(new) = &new {
            if reason.is_none() {
                major_change_unexplained(old, new, &mut errors);
            }
        }
        match new {
            Some(n) if errors.is_empty() => Ok((n, reason)),
            _ => Err(AppError::Validation(errors)),
        }
    }

    /// The duplicate check of a changed record (prepared as `prepared`), and whether it
    /// blocks: only a change that *makes* a definite duplicate does; one that was already
    /// there (overridden at creation) does not block every later edit.
    async fn duplicates_made_by_change(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        customer_id: i64,
        old: &Record,
        prepared: &custos_core::matching::Prepared,
    ) -> AppResult<(duplicates::DuplicateReport, bool)> {
        tx.lock_audit_head().await?;
        let report = self
            .find_duplicates_of(
                tx,
                actor,
                prepared,
                &duplicates::hashes_of(prepared, &self.app.config.pii_key),
                &[customer_id],
            )
            .await?;
        let blocking = if report.is_definite() {
            let before = self
                .find_duplicates(tx, actor, &duplicates::match_record(old), &[customer_id])
                .await?;
            !before.is_definite()
        } else {
            false
        };
        Ok((report, blocking))
    }
}

/// A customer can be changed only from the version the caller read (when given), and
/// only in an editable status.
fn check_editable(code: &str, row: &CustomerRow, expected_version: Option<i64>) -> AppResult<()> {
    if let Some(v) = expected_version {
        if v != row.row_version {
            return Err(AppError::Conflict(Violation::new(
                "customer.version_stale",
                format!(
                    "客户“{code}”已被他人修改（您读取的版本 {v}，当前版本 {}），请重新读取后再改",
                    row.row_version
                ),
                format!(
                    "customer '{code}' was changed meanwhile (you read version {v}, it is now {}); reload and retry",
                    row.row_version
                ),
            )));
        }
    }
    if !CustomerStatus::editable(&row.status) {
        return Err(AppError::Rejected(Violation::new(
            "customer.not_editable",
            format!("客户“{code}”状态为 {}，不能修改", row.status),
            format!("customer '{code}' is {} and cannot be changed", row.status),
        )));
    }
    Ok(())
}

/// A change of a major field without a reason is an error naming the changed fields.
fn major_change_unexplained(old: &Record, new: &Record, errors: &mut Vec<FieldError>) {
    let major: Vec<&str> = MAJOR_FIELDS
        .iter()
        .copied()
        .filter(|f| match *f {
            "name" => old.name != new.name,
            "uscc" => old.uscc != new.uscc,
            "id_number" => old.id_number != new.id_number,
            "customer_type" => old.customer_type != new.customer_type,
            _ => false,
        })
        .collect();
    if !major.is_empty() {
        errors.push(
            Violation::new(
                "reason.required",
                format!("修改重要字段（{}）须填写原因", major.join("、")),
                format!(
                    "changing a major field ({}) needs a reason",
                    major.join(", ")
                ),
            )
            .on("reason"),
        );
    }
}

/// The history entry of a change stored as `updated` at `now`.
fn change_history(
    actor: &Actor,
    updated: &CustomerRow,
    action: &str,
    reason: Option<String>,
    changes: &[FieldChange],
    now: i64,
) -> HistoryRow {
    let changes = serde_json::to_string(&changes).unwrap_or_default();
    history_entry(actor, updated, action, reason, changes, now)
}

/// The audit entry of a change: the changed fields before and after.
fn change_audit(
    actor: &Actor,
    code: &str,
    action: &str,
    changes: &[FieldChange],
    reason: Option<String>,
) -> AuditRecord {
    let mut r = record(actor, &format!("customer.{action}"), "customer", code);
    let before: Map<String, Value> = changes
        .iter()
        .map(|c| (c.field.clone(), c.old.clone()))
        .collect();
    let after: Map<String, Value> = changes
        .iter()
        .map(|c| (c.field.clone(), c.new.clone()))
        .collect();
    r.before = to_json(&before);
    r.after = to_json(&after);
    r.reason = reason;
    r
}
