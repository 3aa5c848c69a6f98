//! Orders and payments (交易与回款), usually pushed by a source system (ERP): idempotent
//! on (source system, document number) — the same document again answers the stored
//! record, a different one under the same number is a conflict. The customer's order
//! totals (lifetime amount, count, last order date) are counted again in the same
//! transaction as every new order.

use crate::activities::Activities;
use custos_core::Violation;
use custos_store::{ActivityRow, CustomerRow, StoreError, Tx};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{yuan_text, Form, KEY_TEXT, SHORT_TEXT};
use super::records::{
    decode, insert_record, page_rows, Body, PageQuery, Placement, RecordMeta, Shower,
    SOURCE_KEY_TAKEN,
};
use super::{check_writable, kind, locate, Located};
use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::input::Input;
use crate::lifecycle::Cause;
use crate::text_input::refuse_in;

/// An order or payment to record.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The system the document comes from, e.g. `erp`.
    pub source_system: String,
    /// Its number there; (source_system, document_number) is unique.
    pub document_number: String,
    /// `order` (default) or `payment` (回款).
    #[serde(default)]
    pub kind: Option<String>,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Amount in yuan: a number or a decimal text with at most two decimals.
    #[schema(value_type = String, example = "3500.00")]
    pub amount: Value,
    /// ISO 4217 (default CNY).
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub remarks: Option<String>,
}

/// The fields of an order or payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub kind: String,
    pub source_system: String,
    pub document_number: String,
    pub date: String,
    /// In yuan, two decimals.
    pub amount: String,
    pub amount_fen: i64,
    pub currency: String,
    pub remarks: Option<String>,
}

impl Body for Order {
    fn texts(&mut self) -> Vec<&mut String> {
        self.remarks.as_mut().into_iter().collect()
    }
}

/// An order or payment as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub order: Order,
}

pub(crate) fn order_view(meta: RecordMeta, order: Order) -> OrderView {
    OrderView { meta, order }
}

/// A customer's order totals (payments are not counted).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderTotals {
    /// Sum of the orders in yuan, two decimals (amounts of every currency added as
    /// they are).
    pub lifetime_amount: String,
    pub lifetime_amount_fen: i64,
    pub order_count: i64,
    pub last_order_on: Option<String>,
}

impl From<custos_store::OrderTotalsRow> for OrderTotals {
    fn from(t: custos_store::OrderTotalsRow) -> Self {
        OrderTotals {
            lifetime_amount: yuan_text(t.total_fen),
            lifetime_amount_fen: t.total_fen,
            order_count: t.order_count,
            last_order_on: t.last_order_on,
        }
    }
}

/// A recorded order: `created` is false when the same document was recorded before.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderReceipt {
    pub created: bool,
    #[serde(flatten)]
    pub order: OrderView,
}

/// A page of orders and payments with the customer's totals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    pub next_cursor: Option<String>,
    pub totals: OrderTotals,
}

impl Activities<'_> {
    /// Record an order or payment (`activity.write`), idempotent on (source system,
    /// document number).
    pub async fn add_order(
        &self,
        actor: &Actor,
        code: &str,
        input: impl Into<Input<NewOrder>>,
    ) -> AppResult<Located<OrderReceipt>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let input = input.into().get()?;
        refuse_in("", &input)?;
        let order = checked_order(&input)?;
        let key = source_key(&order);
        if let Some(existing) = tx.activity_by_source_key(&key).await? {
            let receipt = self
                .repeated(&mut tx, actor, customer, &existing, &order)
                .await?;
            tx.rollback().await?;
            return Ok(Located::Here(receipt));
        }
        check_writable(&customer)?;
        tx.lock_audit_head().await?;
        let placement = Placement {
            occurred_at: self.day_start(Some(&order.date)),
            ref_key: Some(order.date.clone()),
            source_key: Some(key.clone()),
            amount_fen: Some(order.amount_fen),
            ..Default::default()
        };
        let store_kind = if order.kind == "payment" {
            kind::PAYMENT
        } else {
            kind::ORDER
        };
        let row = match insert_record(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            store_kind,
            placement,
            &order,
        )
        .await
        {
            Ok(row) => row,
            Err(AppError::Conflict(v)) if v.code == SOURCE_KEY_TAKEN => {
                // Another request recorded the same document meanwhile: answer as a repeat.
                drop(tx);
                return self.after_race(actor, code, &key, &order).await;
            }
            Err(e) => return Err(e),
        };
        if store_kind == kind::ORDER {
            tx.recount_order_totals(customer.id, kind::ORDER).await?;
        }
        self.app
            .lifecycle()
            .settle_lifecycle(&mut tx, actor, customer.id, Cause::record(row.id))
            .await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let (meta, body) = shower.show(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(Located::Here(OrderReceipt {
            created: true,
            order: order_view(meta, body),
        }))
    }

    /// A customer's orders and payments, newest first, with its totals (`activity.read`).
    pub async fn list_orders(
        &self,
        actor: &Actor,
        code: &str,
        q: &PageQuery,
    ) -> AppResult<Located<OrderPage>> {
        let mut tx = self.app.db.begin_read().await?;
        let customer = match locate(&mut tx, actor, "activity.read", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let kinds = [kind::ORDER, kind::PAYMENT];
        let (rows, next_cursor) = page_rows(&mut tx, customer.id, &kinds, q).await?;
        let totals = tx.order_totals(customer.id).await?.into();
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let (meta, body) = shower.show(&mut tx, row).await?;
            items.push(order_view(meta, body));
        }
        tx.rollback().await?;
        self.audit_text_reveal(actor, &shower).await?;
        Ok(Located::Here(OrderPage {
            items,
            next_cursor,
            totals,
        }))
    }

    /// The answer to a document recorded before: the stored record when it is the same
    /// document for the same customer, else a conflict (which says nothing about where
    /// the stored one is).
    async fn repeated(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        customer: CustomerRow,
        existing: &ActivityRow,
        order: &Order,
    ) -> AppResult<OrderReceipt> {
        let (_, stored) = decode::<Order>(&self.app.config.pii_key, existing)?;
        if existing.customer_id != customer.id || stored != *order {
            return Err(AppError::Conflict(Violation::new(
                "order.document_conflict",
                format!(
                    "来源系统“{}”的单据“{}”已登记，且内容不同",
                    order.source_system, order.document_number
                ),
                format!(
                    "document '{}' of source system '{}' was recorded before with other content",
                    order.document_number, order.source_system
                ),
            )));
        }
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let (meta, body) = shower.show(tx, existing).await?;
        Ok(OrderReceipt {
            created: false,
            order: order_view(meta, body),
        })
    }

    /// After losing a race to record the same document: answer as a repeat.
    async fn after_race(
        &self,
        actor: &Actor,
        code: &str,
        key: &str,
        order: &Order,
    ) -> AppResult<Located<OrderReceipt>> {
        let mut tx = self.app.db.begin_read().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let existing = tx
            .activity_by_source_key(key)
            .await?
            .ok_or_else(|| AppError::from(StoreError::Busy))?;
        let receipt = self
            .repeated(&mut tx, actor, customer, &existing, order)
            .await?;
        tx.rollback().await?;
        Ok(Located::Here(receipt))
    }
}

/// The unique key of a document: source system and number.
fn source_key(order: &Order) -> String {
    format!("{}\u{1f}{}", order.source_system, order.document_number)
}

fn checked_order(input: &NewOrder) -> AppResult<Order> {
    let mut f = Form::default();
    let source_system =
        f.required_text("source_system", Some(&input.source_system), KEY_TEXT, false);
    let document_number = f.required_text(
        "document_number",
        Some(&input.document_number),
        KEY_TEXT,
        false,
    );
    let kind = f
        .one_of("kind", input.kind.as_deref(), &["order", "payment"])
        .unwrap_or_else(|| "order".into());
    let date = f.date("date", Some(&input.date));
    if input.date.trim().is_empty() {
        f.required("date");
    }
    let amount_fen = f.amount("amount", Some(&input.amount));
    if amount_fen.is_none() && f.errors.iter().all(|e| e.field != "amount") {
        f.required("amount");
    }
    let currency = f.currency("currency", input.currency.as_deref());
    let remarks = f.text("remarks", input.remarks.as_deref(), SHORT_TEXT, true);
    f.finish()?;
    let amount_fen = amount_fen.unwrap_or_default();
    Ok(Order {
        kind,
        source_system,
        document_number,
        date: date.map(|d| d.to_string()).unwrap_or_default(),
        amount: yuan_text(amount_fen),
        amount_fen,
        currency,
        remarks,
    })
}
