//! Creating customers: one at a time (group commit) or many in one transaction; the code
//! is issued in the same transaction, with the history entry and the audit entry.

use crate::customers::Customers;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use custos_core::matching::Prepared;
use custos_core::FieldError;
use custos_store::customer_master::{CustomerIndexes, HistoryRow, NewCustomerWrite};
use custos_store::{now_us, AuditRecord, CodeRow, CustomerRow, StoreError, Tx};

use super::checks::typed_text;
use super::duplicates;
use super::history::history_entry;
use super::indexes::indexes_with;
use super::input::NewCustomer;
use super::lookups::Lookups;
use super::masking::masked_record;
use super::record::{Draft, Record};
use super::reference::Reference;
use super::scope::check_owner_in_scope;
use super::stored::fresh_row;
use super::validation::validate;
use super::views::{view, CustomerView};
use crate::actor::{Actor, Scope};
use crate::audit::record;
use crate::codes::{code_row, code_taken, draw_code, issue_date, DrawnCode};
use crate::error::{AppError, AppResult};
use crate::to_json;

/// The part of a creation that needs no database — the record validated and normalised,
/// its match profile and its index rows — worked out before the write transaction: by
/// the caller's task while the batch writer runs other creations, or for the next demo
/// batch while one commits. So that work leaves the writer's path, which is the one that
/// runs one creation after another. It is used only when the transaction reads the same
/// reference data (customer types, field catalog) and issue date; otherwise the
/// creation is validated again inside. Owner and department are resolved inside, from
/// the transaction.
pub(crate) struct Checked {
    today: NaiveDate,
    reference: Arc<Reference>,
    rec: Record,
    reason: Option<String>,
    prepared: custos_core::matching::Prepared,
    indexes: CustomerIndexes,
    /// The PII key the indexes are keyed with (a rotation in between makes them stale).
    key_id: String,
}

impl Checked {
    /// The match-key hashes the creation's duplicate check will look up.
    pub(crate) fn match_keys(&self) -> &[i64] {
        &self.indexes.match_keys
    }
}

/// Fault injection for tests of rollback behaviour: called after the code is drawn, an
/// error return aborts the creation.
pub type FaultHook = std::sync::Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// `YYYY-MM` of a time in the business time zone.
pub(super) fn month_of(us: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.with_timezone(&tz).format("%Y-%m").to_string())
        .unwrap_or_default()
}

impl Customers<'_> {
    /// Create a customer and issue its code in one transaction (`customer.create`).
    pub async fn create_customer(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewCustomer>>,
    ) -> AppResult<CustomerView> {
        let scope = actor.require("customer.create")?;
        let input = input.into().get()?;
        // Validation and matching features are worked out here, beside the batch writer;
        // a retried batch (the slot already taken) works them out again inside.
        let checked = self.check_new(actor, &input);
        let match_keys = checked
            .as_ref()
            .map(|c| c.match_keys().to_vec())
            .unwrap_or_default();
        let checked = Arc::new(std::sync::Mutex::new(checked));
        // Concurrent creations share one commit (group commit, see batch.rs); each runs in
        // its own savepoint, so a failure still rolls back only its own code draw.
        let app = self.app.clone();
        let actor = actor.clone();
        self.app
            .batcher
            .run(&self.app.db, match_keys, move |tx, lookups| {
                let (app, actor, input) = (app.clone(), actor.clone(), input.clone());
                let checked = checked.lock().unwrap_or_else(|p| p.into_inner()).take();
                Box::pin(async move {
                    let (row, rec, duplicates) = app
                        .customers()
                        .insert_new_customer_excluding(
                            tx,
                            lookups,
                            &actor,
                            scope,
                            input,
                            checked,
                            &[],
                        )
                        .await?;
                    let reveal = app.customers().reveal(tx, &actor, &row, &rec).await?;
                    let mut v = view(&row, &rec, reveal);
                    v.possible_duplicates = duplicates.candidates;
                    Ok(v)
                })
            })
            .await
    }

    /// Create many customers in one transaction (imports, demo data): the same
    /// validation, code issue, history and audit per customer as [`Customers::create_customer`],
    /// one commit for all. Any failure rolls the whole batch back; field names in errors
    /// are prefixed with the item's index (`[3].uscc`). Returns the codes.
    pub async fn create_customers(
        &self,
        actor: &Actor,
        inputs: Vec<NewCustomer>,
    ) -> AppResult<Vec<String>> {
        let items = inputs
            .into_iter()
            .map(|i| {
                let checked = self.check_new(actor, &i);
                (i, checked)
            })
            .collect();
        self.create_checked(actor, items).await
    }

    /// [`Customers::create_customers`] with each item's work done before the transaction
    /// (see [`Checked`]).
    pub(crate) async fn create_checked(
        &self,
        actor: &Actor,
        items: Vec<(NewCustomer, Option<Checked>)>,
    ) -> AppResult<Vec<String>> {
        self.create_checked_leaving_out(actor, items, false)
            .await
            .map(|(codes, _)| codes)
    }

    /// [`Customers::create_checked`]; with `leave_out_duplicates`, an item the duplicate check
    /// refuses is left out instead of failing the batch (the check comes before any of
    /// the item's writes), and the first such refusal is returned beside the codes of
    /// those created. For synthetic data, where a generated near-twin of an earlier
    /// customer is the generator's accident, not an input to keep.
    pub(crate) async fn create_checked_leaving_out(
        &self,
        actor: &Actor,
        items: Vec<(NewCustomer, Option<Checked>)>,
        leave_out_duplicates: bool,
    ) -> AppResult<(Vec<String>, Option<AppError>)> {
        let scope = actor.require("customer.create")?;
        let mut tx = self.app.db.begin().await?;
        let keys = items
            .iter()
            .filter_map(|(_, c)| c.as_ref())
            .map(Checked::match_keys);
        let mut lookups =
            Lookups::for_creations(&mut tx, items.len(), keys, Some(self.app)).await?;
        let mut codes = Vec::with_capacity(items.len());
        let mut left_out = None;
        for (i, (input, checked)) in items.into_iter().enumerate() {
            match self
                .insert_new_customer_excluding(
                    &mut tx,
                    &mut lookups,
                    actor,
                    scope,
                    input,
                    checked,
                    &[],
                )
                .await
            {
                Ok((row, _, _)) => codes.push(row.code),
                Err(e @ AppError::Duplicate { .. }) if leave_out_duplicates => {
                    left_out.get_or_insert(e);
                }
                Err(AppError::Validation(fields)) => {
                    return Err(AppError::Validation(
                        fields
                            .into_iter()
                            .map(|f| FieldError {
                                field: format!("[{i}].{}", f.field),
                                violation: f.violation,
                            })
                            .collect(),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok((codes, left_out))
    }

    /// Validate, draw the code, insert, register the code, index, history, audit — all
    /// in `tx`.
    pub(crate) async fn insert_new_customer(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        actor: &Actor,
        scope: Scope,
        input: NewCustomer,
    ) -> AppResult<(CustomerRow, Record, duplicates::DuplicateReport)> {
        self.insert_new_customer_excluding(tx, lookups, actor, scope, input, None, &[])
            .await
    }

    /// The database-free part of creating `input` (see [`Checked`]), when the record is
    /// valid against the reference data a transaction saw last (or
    /// [`Customers::settle_reference`] read); `None` otherwise, and the creation then validates
    /// in its transaction as usual — including reporting every error.
    pub(crate) fn check_new(&self, actor: &Actor, input: &NewCustomer) -> Option<Checked> {
        let reference = self.app.reference_seen.latest()?;
        let today = issue_date(self.app.config.code_timezone);
        let mut reason_errors = Vec::new();
        let reason = typed_text("reason", input.reason.as_deref(), 500, &mut reason_errors);
        if !reason_errors.is_empty() {
            return None;
        }
        let mut raw = Draft::from(input);
        raw.owner_id = Some(input.owner_id.unwrap_or(actor.user_id));
        let rec = validate(raw, today, &reference).ok()?;
        let prepared = custos_core::matching::prepare(&duplicates::match_record(&rec), today);
        let key = self.app.config.pii_key.pinned();
        let indexes = indexes_with(&rec, &key, &prepared);
        Some(Checked {
            key_id: key.key_id(),
            today,
            reference,
            rec,
            reason,
            prepared,
            indexes,
        })
    }

    /// [`Customers::insert_new_customer`] with the work `checked` did before the transaction
    /// (used if still valid, see [`Checked`]), ignoring the customers `exclude` in the
    /// duplicate check (a split's original).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_new_customer_excluding(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        actor: &Actor,
        scope: Scope,
        input: NewCustomer,
        checked: Option<Checked>,
        exclude: &[i64],
    ) -> AppResult<(CustomerRow, Record, duplicates::DuplicateReport)> {
        if input.code.is_some() {
            actor.require("code.assign")?;
        }
        let today = issue_date(self.app.config.code_timezone);
        // One key for the record's values and its index rows.
        let key = &self.app.config.pii_key.pinned();
        let checked = checked.filter(|c| c.key_id == key.key_id());
        let (rec, reason, ready) = self
            .valid_creation(tx, lookups, actor, &input, checked, today)
            .await?;
        // The creator must be able to see what they create.
        let owner_id = rec.owner_id.unwrap_or(actor.user_id);
        check_owner_in_scope(tx, actor, scope, owner_id, rec.department_id).await?;
        // Every writer takes the audit head first (PostgreSQL), so no other process can
        // add a matching customer between this check and the commit.
        tx.lock_audit_head().await?;
        let (prepared, indexes) = match ready {
            Some(r) => r,
            None => {
                let prepared =
                    custos_core::matching::prepare(&duplicates::match_record(&rec), today);
                let indexes = indexes_with(&rec, key, &prepared);
                (prepared, indexes)
            }
        };
        let duplicates = self
            .find_duplicates_of(tx, actor, &prepared, &indexes.match_keys, exclude)
            .await?;
        self.guard_duplicates(
            actor,
            &duplicates,
            input.override_duplicates,
            reason.as_deref(),
        )?;

        let drawn = draw_code(
            tx,
            lookups,
            &self.app.config,
            &code_attributes(&rec),
            &rec.customer_type,
            rec.region_code.as_deref(),
            input.code.as_deref(),
        )
        .await?;
        if let Some(hook) = &self.app.config.fault_after_code_draw {
            hook.0(&drawn.code).map_err(AppError::Internal)?;
        }
        let now = now_us();
        let mut row = fresh_row(&drawn.code, &rec, key, actor.user_id, now);
        let history = creation_history(actor, &row, reason.clone(), now);
        let audit = creation_audit(actor, &row, &drawn, &rec, &duplicates, reason.clone());
        let quality = self.app.quality().quality_of_new(&rec, now);
        let code = code_row(&drawn, None, "active", actor, reason);
        let write = NewCustomerWrite {
            row: &row,
            created_month: &month_of(now, self.app.config.code_timezone),
            code: &code,
            indexes: &indexes,
            history: &history,
            audit: &audit,
            quality: &quality,
        };
        row.id = match tx.insert_new_customer(write).await {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => return Err(code_taken(&drawn.code)),
            Err(e) => return Err(e.into()),
        };
        creation_events(tx, actor, &row, &code);
        self.remember_prepared(&row, prepared);
        Ok((row, rec, duplicates))
    }

    /// The record to create, validated, and its normalised reason: from `checked` if that
    /// work was done against the reference data and issue date this transaction sees
    /// (then with its matching features and index rows), else validated here. All
    /// failures together.
    async fn valid_creation(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        actor: &Actor,
        input: &NewCustomer,
        checked: Option<Checked>,
        today: NaiveDate,
    ) -> AppResult<(Record, Option<String>, Option<(Prepared, CustomerIndexes)>)> {
        let reference = lookups.reference(self.app, tx).await?;
        let checked = checked.filter(|c| {
            c.today == today
                && (Arc::ptr_eq(&c.reference, &reference) || *c.reference == *reference)
        });
        if let Some(c) = checked {
            let mut rec = c.rec;
            let errors = self
                .resolve_owner(tx, lookups, rec.owner_id, &mut rec.department_id)
                .await?;
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            return Ok((rec, c.reason, Some((c.prepared, c.indexes))));
        }
        let mut raw = Draft::from(input);
        raw.owner_id = Some(input.owner_id.unwrap_or(actor.user_id));
        let mut reason_errors = Vec::new();
        let reason = typed_text("reason", input.reason.as_deref(), 500, &mut reason_errors);
        let mut errors = self
            .resolve_owner(tx, lookups, raw.owner_id, &mut raw.department_id)
            .await?;
        let rec = match validate(raw, today, &reference) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        errors.extend(reason_errors);
        match rec {
            Some(r) if errors.is_empty() => Ok((r, reason, None)),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// The attributes a code rule may choose by: customer type, level and industry.
fn code_attributes(rec: &Record) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("customer_type".to_string(), rec.customer_type.clone());
    if let Some(l) = &rec.level {
        attributes.insert("level".to_string(), l.clone());
    }
    if let Some(i) = &rec.industry {
        attributes.insert("industry".to_string(), i.clone());
    }
    attributes
}

/// The events of a creation: the customer and its code.
fn creation_events(tx: &mut Tx, actor: &Actor, row: &CustomerRow, code: &CodeRow) {
    use crate::events::{emit_customer_event, CODE_ISSUED, CUSTOMER_CREATED};
    let payload = serde_json::json!({
        "customer_type": row.customer_type,
        "status": row.status,
        "source": actor.ctx.source.as_str(),
    });
    emit_customer_event(tx, actor, row, CUSTOMER_CREATED, payload);
    let payload = serde_json::json!({
        "rule_key": code.rule_key,
        "rule_version": code.rule_version,
        "manual": code.manual,
    });
    emit_customer_event(tx, actor, row, CODE_ISSUED, payload);
}

/// The history entry of a creation stored as `row` at `now`. A creation's changes are
/// every field of its snapshot: not stored twice (about half of the history's bytes),
/// derived when the history is read.
fn creation_history(
    actor: &Actor,
    row: &CustomerRow,
    reason: Option<String>,
    now: i64,
) -> HistoryRow {
    // The customer's id is not known yet: the store fills it in.
    HistoryRow {
        customer_id: 0,
        row_version: 1,
        ..history_entry(actor, row, "create", reason, String::new(), now)
    }
}

/// The audit entry of a creation: code, rule, the record (personal data masked) and the
/// duplicate check's outcome.
fn creation_audit(
    actor: &Actor,
    row: &CustomerRow,
    drawn: &DrawnCode,
    rec: &Record,
    duplicates: &duplicates::DuplicateReport,
    reason: Option<String>,
) -> AuditRecord {
    let mut r = record(actor, "customer.create", "customer", &row.code);
    r.after = to_json(&serde_json::json!({
        "code": row.code, "rule": format!("{}@{}", drawn.rule_key, drawn.rule_version),
        "manual_code": drawn.manual, "record": masked_record(rec),
        "duplicates": duplicates.summary(),
        "duplicates_overridden": duplicates.is_definite(),
    }));
    r.reason = reason;
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    use crate::customers::record::OptionalText;
    use crate::customers::stored::record_of;

    use crate::test_support::app_with_admin;

    fn company(name: &str) -> NewCustomer {
        NewCustomer {
            customer_type: "enterprise".into(),
            name: name.into(),
            region_code: Some("310104".into()),
            mobile: Some("13800138000".into()),
            ..Default::default()
        }
    }

    /// Work checked before the transaction is not trusted once the catalog changed: a
    /// field made required in between is still enforced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checked_work_is_redone_when_the_catalog_changed() {
        let (app, admin, _dir) = app_with_admin().await;
        // Nothing is checked ahead before a write transaction read the reference data.
        assert!(app
            .customers()
            .check_new(&admin, &company("先行校验甲有限公司"))
            .is_none());
        app.customers()
            .create_customers(&admin, vec![company("先行校验甲有限公司")])
            .await
            .unwrap();
        let mut input = company("远航校验乙有限公司");
        input.mobile = Some("13912345678".into());
        let checked = app.customers().check_new(&admin, &input);
        assert!(checked.is_some());
        let mut def = app
            .fields()
            .list_fields(&admin)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.key == "industry")
            .expect("built-in industry field");
        def.key = "contract_no".into();
        def.label_zh = "合同编号".into();
        def.label_en = "Contract number".into();
        def.field_type = crate::fields::FieldType::Text;
        def.allowed_values = Vec::new();
        def.required_for = vec!["enterprise".into()];
        app.fields().put_field(&admin, def).await.unwrap();
        match app
            .customers()
            .create_checked(&admin, vec![(input, checked)])
            .await
        {
            Err(AppError::Validation(fields)) => {
                assert!(
                    fields.iter().any(|f| f.field.contains("contract_no")),
                    "{fields:?}"
                );
            }
            other => panic!("expected the new required field to be enforced: {other:?}"),
        }
    }

    /// A bulk job in a new process checks its first batch ahead too: the reference data
    /// are read before any write transaction, and the work done with them is accepted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reference_settled_before_the_first_batch() {
        let (app, admin, _dir) = app_with_admin().await;
        let input = company("首批先行校验有限公司");
        assert!(app.customers().check_new(&admin, &input).is_none());
        app.customers().settle_reference().await.unwrap();
        let checked = app.customers().check_new(&admin, &input);
        assert!(checked.is_some(), "first batch not checked ahead");
        let codes = app
            .customers()
            .create_checked(&admin, vec![(input, checked)])
            .await
            .unwrap();
        assert_eq!(codes.len(), 1);
        // Settling again keeps what the transaction saw (same reference, same copy).
        app.customers().settle_reference().await.unwrap();
        assert!(app
            .customers()
            .check_new(&admin, &company("第二批先行校验有限公司"))
            .is_some());
    }

    /// A creation from checked work stores exactly what the creation inside the
    /// transaction stores.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checked_and_unchecked_creations_store_the_same() {
        let (app, admin, _dir) = app_with_admin().await;
        app.customers()
            .create_customers(&admin, vec![company("预热客户有限公司")])
            .await
            .unwrap();
        let mut a = company(" 上海　启明比较（甲）有限公司 ");
        a.former_names = vec!["上海启明旧名有限公司".into()];
        a.tags = vec!["重点".into()];
        a.mobile = Some("+86 139 0013 9001".into());
        let mut b = a.clone();
        b.name = " 上海　远航测算（乙）有限公司 ".into();
        b.former_names = vec!["上海远航旧名有限公司".into()];
        b.mobile = Some("+86 137 2468 1357".into());
        let checked = app.customers().check_new(&admin, &b);
        assert!(checked.is_some());
        let codes = app
            .customers()
            .create_checked(&admin, vec![(a, None), (b, checked)])
            .await
            .unwrap();
        let mut tx = app.db.begin_read().await.unwrap();
        let ra = tx.customer_by_code(&codes[0]).await.unwrap().unwrap();
        let rb = tx.customer_by_code(&codes[1]).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        let key = &app.config.pii_key;
        let (va, mut vb) = (record_of(&ra, key).unwrap(), record_of(&rb, key).unwrap());
        // Stored as typed (full-width brackets kept), found by either bracket style.
        assert_eq!(vb.name, "上海 远航测算（乙）有限公司");
        assert_eq!(vb.mobile.text(), Some("13724681357"));
        vb.name = va.name.clone();
        vb.mobile = va.mobile.clone();
        vb.former_names = va.former_names.clone();
        assert_eq!(
            serde_json::to_value(&va).unwrap(),
            serde_json::to_value(&vb).unwrap()
        );
        // Its index rows are written: found by name, by mobile (blind index) and by the
        // duplicate check (match keys).
        let by_name = app
            .customers()
            .search_customers(
                &admin,
                crate::search::CustomerQuery {
                    name: Some("远航测算(乙)".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(by_name.items.len(), 1);
        assert_eq!(by_name.items[0].code, codes[1]);
        let by_mobile = app
            .customers()
            .search_customers(
                &admin,
                crate::search::CustomerQuery {
                    mobile: Some("13724681357".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(by_mobile.items.len(), 1);
        let report = app
            .customers()
            .check_duplicates(&admin, company("上海远航测算（乙）有限公司"))
            .await
            .unwrap();
        assert_eq!(
            report.candidates.first().map(|c| c.code.clone()),
            Some(codes[1].clone())
        );
    }
}
