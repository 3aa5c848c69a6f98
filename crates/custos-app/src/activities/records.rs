//! The stored form of a record (its kind's fields as JSON, with who recorded it), how it
//! is shown (free text masked unless the caller may read personal data), its audit
//! entries and the cursor pages of a customer's records.

use crate::activities::Activities;
use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use custos_store::{now_us, ActivityRow, CustomerRow, StoreError, Tx};

use super::{locate, Located};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::clock::format_time;
use crate::customers::mask_free_text;
use crate::error::{AppError, AppResult};
use crate::paging::{invalid, page_cursor, page_limit};
use crate::pii::PiiKey;
use crate::to_json;

/// The code of a conflict on the unique (source system, document number) of an order.
pub(crate) const SOURCE_KEY_TAKEN: &str = "order.document_taken";

/// Records on one page unless `limit` says otherwise, and the most `limit` may ask.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

/// The fields of one kind of record.
pub(crate) trait Body: Serialize + DeserializeOwned + Clone {
    /// Its free texts: masked for callers without `customer.pii.read`.
    fn texts(&mut self) -> Vec<&mut String>;
}

/// What is stored: the kind's fields and the name of who recorded it.
#[derive(Serialize, Deserialize)]
struct Stored<B> {
    by: String,
    #[serde(flatten)]
    body: B,
}

/// What every record shows besides its kind's fields.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordMeta {
    pub id: i64,
    /// The customer it belongs to now.
    pub customer_code: String,
    /// The customer it was recorded on, when that is another one (it came with a merge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_on: Option<String>,
    pub recorded_at: String,
    pub recorded_by: Option<i64>,
    pub recorded_by_name: String,
    pub updated_at: String,
    /// True when personal data in the free text of this record is masked.
    pub text_masked: bool,
}

/// A page of records, newest first; `next_cursor` (absent on the last page) is the
/// `cursor` of the next one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Query parameters of the record lists.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Records per page, 1–200 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One record of any kind in the list of all of a customer's records.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivityItem {
    /// `followup`, `interaction`, `service_record`, `contract`, `order` or `payment`.
    pub kind: String,
    pub id: i64,
    /// When it happened.
    pub occurred_at: String,
    /// The record as its own endpoint shows it.
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
}

/// The stored JSON of a record. Its free texts are encrypted like every other personal
/// datum at rest (DESIGN invariant 6): a call note or a complaint often quotes a phone or
/// an ID number, and the database file must not give them away.
pub(crate) fn encode<B: Body>(key: &PiiKey, by: &str, body: &B) -> String {
    // One key for every text of the record, even if another is activated meanwhile.
    let key = key.pinned();
    let mut sealed = body.clone();
    for t in sealed.texts() {
        if !t.is_empty() {
            *t = key.encrypt(t);
        }
    }
    serde_json::to_string(&Stored {
        by: by.to_string(),
        body: sealed,
    })
    .unwrap_or_default()
}

/// The fields of a stored record (free texts decrypted) and who recorded it. Texts
/// stored before they were encrypted are read as they are.
pub(crate) fn decode<B: Body>(key: &PiiKey, row: &ActivityRow) -> AppResult<(String, B)> {
    let mut s: Stored<B> = serde_json::from_str(&row.body)
        .map_err(|e| AppError::Internal(format!("record {} unreadable: {e}", row.id)))?;
    for t in s.body.texts() {
        *t = key.decrypt_if_encrypted(t)?;
    }
    Ok((s.by, s.body))
}

/// `body` with personal data in its free text masked; true when there was any.
pub(crate) fn mask_texts<B: Body>(body: &mut B) -> bool {
    let mut found = false;
    for t in body.texts() {
        let m = mask_free_text(t);
        if m != *t {
            found = true;
            *t = m;
        }
    }
    found
}

/// Turns stored records of one customer into what a caller sees.
pub(crate) struct Shower {
    key: PiiKey,
    customer: CustomerRow,
    reveal: bool,
    origins: HashMap<i64, String>,
    /// Ids of records shown with personal data in clear (their read is audited).
    pub revealed: Vec<i64>,
}

impl Shower {
    pub fn new(key: &PiiKey, actor: &Actor, customer: CustomerRow) -> Shower {
        Shower {
            key: key.clone(),
            reveal: actor.can("customer.pii.read"),
            customer,
            origins: HashMap::new(),
            revealed: Vec::new(),
        }
    }

    /// The record's common part and its fields, masked as the caller must see them.
    pub async fn show<B: Body>(
        &mut self,
        tx: &mut Tx,
        row: &ActivityRow,
    ) -> AppResult<(RecordMeta, B)> {
        let (by, mut body) = decode::<B>(&self.key, row)?;
        let mut masked_copy = body.clone();
        let has_pii = mask_texts(&mut masked_copy);
        if has_pii && self.reveal {
            self.revealed.push(row.id);
        } else {
            body = masked_copy;
        }
        let recorded_on = if row.origin_customer_id == self.customer.id {
            None
        } else {
            Some(self.origin_code(tx, row.origin_customer_id).await?)
        };
        let meta = RecordMeta {
            id: row.id,
            customer_code: self.customer.code.clone(),
            recorded_on,
            recorded_at: format_time(row.recorded_at),
            recorded_by: row.recorded_by,
            recorded_by_name: by,
            updated_at: format_time(row.updated_at),
            text_masked: has_pii && !self.reveal,
        };
        Ok((meta, body))
    }

    async fn origin_code(&mut self, tx: &mut Tx, id: i64) -> AppResult<String> {
        if let Some(c) = self.origins.get(&id) {
            return Ok(c.clone());
        }
        let code = tx.customer(id).await?.map(|c| c.code).unwrap_or_default();
        self.origins.insert(id, code.clone());
        Ok(code)
    }
}

/// The fields of a new stored record besides its body.
#[derive(Default)]
pub(crate) struct Placement {
    pub occurred_at: i64,
    pub status: Option<String>,
    pub ref_key: Option<String>,
    pub source_key: Option<String>,
    pub linked_id: Option<i64>,
    pub amount_fen: Option<i64>,
}

/// Store a new record of `kind` on `customer` with its audit entry (`action`).
pub(crate) async fn insert_record<B: Body>(
    key: &PiiKey,
    tx: &mut Tx,
    actor: &Actor,
    customer: &CustomerRow,
    kind: &str,
    at: Placement,
    body: &B,
) -> AppResult<ActivityRow> {
    let now = now_us();
    let mut row = ActivityRow {
        id: 0,
        kind: kind.to_string(),
        customer_id: customer.id,
        origin_customer_id: customer.id,
        occurred_at: at.occurred_at,
        status: at.status,
        ref_key: at.ref_key,
        source_key: at.source_key,
        linked_id: at.linked_id,
        amount_fen: at.amount_fen,
        body: encode(key, &actor.display_name, body),
        recorded_at: now,
        recorded_by: Some(actor.user_id),
        updated_at: now,
    };
    row.id = match tx.insert_activity(&row).await {
        Ok(id) => id,
        Err(StoreError::Conflict { .. }) => {
            return Err(AppError::Conflict(custos_core::Violation::new(
                SOURCE_KEY_TAKEN,
                "该来源系统的单据已登记",
                "this document of the source system is recorded already",
            )))
        }
        Err(e) => return Err(e.into()),
    };
    audit_record(
        tx,
        actor,
        &format!("activity.{kind}_create"),
        customer,
        &row,
        None,
        body,
    )
    .await?;
    Ok(row)
}

/// Store the changed status, link and body of a record with its audit entry.
pub(crate) async fn update_record<B: Body>(
    key: &PiiKey,
    tx: &mut Tx,
    actor: &Actor,
    customer: &CustomerRow,
    row: &mut ActivityRow,
    before: &B,
    body: &B,
) -> AppResult<()> {
    let (by, _) = decode::<B>(key, row)?;
    row.body = encode(key, &by, body);
    row.updated_at = now_us();
    tx.update_activity(row).await?;
    let action = format!("activity.{}_update", row.kind);
    audit_record(tx, actor, &action, customer, row, Some(before), body).await
}

/// The audit entry of a write: the record's fields before and after, free text masked
/// (audit entries never hold personal data in clear).
async fn audit_record<B: Body>(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    customer: &CustomerRow,
    row: &ActivityRow,
    before: Option<&B>,
    after: &B,
) -> AppResult<()> {
    let entry = |b: &B| {
        let mut b = b.clone();
        mask_texts(&mut b);
        let mut v = serde_json::to_value(&b).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("id".into(), row.id.into());
            o.insert("kind".into(), row.kind.clone().into());
        }
        v
    };
    let mut r = record(actor, action, "customer", &customer.code);
    r.before = before.and_then(|b| to_json(&entry(b)));
    r.after = to_json(&entry(after));
    append(tx, r).await?;
    Ok(())
}

/// The rows of one page of a customer's records of `kinds`, and the next page's cursor.
pub(crate) async fn page_rows(
    tx: &mut Tx,
    customer_id: i64,
    kinds: &[&str],
    q: &PageQuery,
) -> AppResult<(Vec<ActivityRow>, Option<String>)> {
    let limit = page_limit(q.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let before = match page_cursor("cursor", q.cursor.as_deref())? {
        None => None,
        Some(id) => Some(
            tx.activity_position(customer_id, id)
                .await?
                .ok_or_else(|| {
                    invalid(
                        "cursor",
                        &id.to_string(),
                        "不是本列表返回的游标",
                        "not a cursor of this list",
                    )
                })?,
        ),
    };
    let mut rows = tx
        .customer_activities(customer_id, kinds, before, limit + 1)
        .await?;
    let mut next = None;
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        next = rows.last().map(|r| r.id.to_string());
    }
    Ok((rows, next))
}

impl Activities<'_> {
    /// A page of a customer's records of `kinds` as `make` shows each (`permission`
    /// needed), the read of any personal data shown in clear audited.
    pub(crate) async fn list_records<B: Body, V>(
        &self,
        actor: &Actor,
        permission: &str,
        code: &str,
        kinds: &[&str],
        q: &PageQuery,
        make: impl Fn(RecordMeta, B) -> V,
    ) -> AppResult<Located<Page<V>>> {
        let mut tx = self.app.db.begin_read().await?;
        let customer = match locate(&mut tx, actor, permission, code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let (rows, next_cursor) = page_rows(&mut tx, customer.id, kinds, q).await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let (meta, body) = shower.show::<B>(&mut tx, row).await?;
            items.push(make(meta, body));
        }
        tx.rollback().await?;
        self.audit_text_reveal(actor, &shower).await?;
        Ok(Located::Here(Page { items, next_cursor }))
    }

    /// Records shown with personal data in their free text in clear are a read of
    /// personal data: audited (in a transaction of its own, as customer reads are).
    pub(crate) async fn audit_text_reveal(&self, actor: &Actor, shower: &Shower) -> AppResult<()> {
        if shower.revealed.is_empty() {
            return Ok(());
        }
        let mut tx = self.app.db.begin().await?;
        let mut r = record(
            actor,
            "customer.pii_read",
            "customer",
            &shower.customer.code,
        );
        r.after = to_json(&serde_json::json!({ "activities": shower.revealed }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }
}
