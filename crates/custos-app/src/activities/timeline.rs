//! All of a customer's business records in one list, newest first: follow-ups,
//! interactions, service records, contracts, orders and payments (credit ratings have
//! their own permission and list).

use crate::activities::Activities;
use custos_store::{ActivityRow, Tx};
use serde::Serialize;

use super::contracts::{contract_view, Contract};
use super::followups::{followup_view, Followup};
use super::interactions::{interaction_view, Interaction};
use super::orders::{order_view, Order};
use super::records::{page_rows, ActivityItem, Body, Page, PageQuery, RecordMeta, Shower};
use super::service_record::ServiceRecord;
use super::services::service_view;
use super::{kind, locate, Located};
use crate::actor::Actor;
use crate::clock::format_time;
use crate::error::AppResult;

/// The kinds the combined list (and the customer's timeline) holds; credit ratings have
/// their own permission and list.
pub(crate) const LISTED_KINDS: &[&str] = &[
    kind::FOLLOWUP,
    kind::INTERACTION,
    kind::SERVICE,
    kind::CONTRACT,
    kind::ORDER,
    kind::PAYMENT,
];

impl Activities<'_> {
    /// A customer's business records of every kind, newest first (`activity.read`).
    pub async fn list_activities(
        &self,
        actor: &Actor,
        code: &str,
        q: &PageQuery,
    ) -> AppResult<Located<Page<ActivityItem>>> {
        let mut tx = self.app.db.begin_read().await?;
        let customer = match locate(&mut tx, actor, "activity.read", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let (rows, next_cursor) = page_rows(&mut tx, customer.id, LISTED_KINDS, q).await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(item(&mut tx, &mut shower, row).await?);
        }
        tx.rollback().await?;
        self.audit_text_reveal(actor, &shower).await?;
        Ok(Located::Here(Page { items, next_cursor }))
    }
}

async fn item(tx: &mut Tx, shower: &mut Shower, row: &ActivityRow) -> AppResult<ActivityItem> {
    let record = match row.kind.as_str() {
        kind::FOLLOWUP => shown::<Followup, _>(tx, shower, row, followup_view).await?,
        kind::INTERACTION => shown::<Interaction, _>(tx, shower, row, interaction_view).await?,
        kind::SERVICE => shown::<ServiceRecord, _>(tx, shower, row, service_view).await?,
        kind::CONTRACT => shown::<Contract, _>(tx, shower, row, contract_view).await?,
        _ => shown::<Order, _>(tx, shower, row, order_view).await?,
    };
    Ok(ActivityItem {
        kind: row.kind.clone(),
        id: row.id,
        occurred_at: format_time(row.occurred_at),
        record,
    })
}

async fn shown<B: Body, V: Serialize>(
    tx: &mut Tx,
    shower: &mut Shower,
    row: &ActivityRow,
    make: impl Fn(RecordMeta, B) -> V,
) -> AppResult<serde_json::Value> {
    let (meta, body) = shower.show::<B>(tx, row).await?;
    Ok(serde_json::to_value(make(meta, body)).unwrap_or_default())
}
