//! Credit (信用): each rating of a customer (with its date and source, the credit limit,
//! what is overdue and whether it defaulted) is a new row; the history is the list and
//! the current rating is the latest by rating date (then by when it was recorded).
//! Reading needs `credit.read`, recording `credit.write`.

use crate::activities::Activities;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{yuan_text, Form, KEY_TEXT, SHORT_TEXT};
use super::records::{insert_record, page_rows, Body, PageQuery, Placement, RecordMeta, Shower};
use super::{check_writable, kind, locate, Located};
use crate::actor::Actor;
use crate::error::AppResult;
use crate::input::Input;
use crate::text_input::refuse_in;

/// A credit rating to record.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCredit {
    /// The rating, e.g. `AAA`, `A`, `C`.
    pub rating: String,
    /// `YYYY-MM-DD`.
    pub rated_on: String,
    /// Who rated: an agency, the finance department…
    #[serde(default)]
    pub source: Option<String>,
    /// Credit limit in yuan.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "500000.00")]
    pub limit: Option<Value>,
    /// Overdue amount in yuan.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "0")]
    pub overdue_amount: Option<Value>,
    /// Days overdue, 0–36500.
    #[serde(default)]
    pub overdue_days: Option<i64>,
    /// The customer defaulted (违约).
    #[serde(default)]
    pub defaulted: Option<bool>,
}

/// The fields of a credit rating.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Credit {
    pub rating: String,
    pub rated_on: String,
    pub source: Option<String>,
    pub limit: Option<String>,
    pub limit_fen: Option<i64>,
    pub overdue_amount: String,
    pub overdue_amount_fen: i64,
    pub overdue_days: i64,
    pub defaulted: bool,
}

impl Body for Credit {
    fn texts(&mut self) -> Vec<&mut String> {
        Vec::new()
    }
}

/// A credit rating as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreditView {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub credit: Credit,
}

fn credit_view(meta: RecordMeta, credit: Credit) -> CreditView {
    CreditView { meta, credit }
}

/// The current rating and a page of the history, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreditHistory {
    pub current: Option<CreditView>,
    pub history: Vec<CreditView>,
    pub next_cursor: Option<String>,
}

impl Activities<'_> {
    /// Record a credit rating (`credit.write`).
    pub async fn add_credit(
        &self,
        actor: &Actor,
        code: &str,
        input: impl Into<Input<NewCredit>>,
    ) -> AppResult<Located<CreditView>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "credit.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let input = input.into().get()?;
        refuse_in("", &input)?;
        check_writable(&customer)?;
        let credit = checked_credit(&input)?;
        tx.lock_audit_head().await?;
        let placement = Placement {
            occurred_at: self.day_start(Some(&credit.rated_on)),
            amount_fen: credit.limit_fen,
            ..Default::default()
        };
        let row = insert_record(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            kind::CREDIT,
            placement,
            &credit,
        )
        .await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let (meta, body) = shower.show(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(Located::Here(credit_view(meta, body)))
    }

    /// A customer's current credit rating and its history (`credit.read`).
    pub async fn credit_history(
        &self,
        actor: &Actor,
        code: &str,
        q: &PageQuery,
    ) -> AppResult<Located<CreditHistory>> {
        let mut tx = self.app.db.begin_read().await?;
        let customer = match locate(&mut tx, actor, "credit.read", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let (rows, next_cursor) = page_rows(&mut tx, customer.id, &[kind::CREDIT], q).await?;
        let latest = tx
            .customer_activities(customer.id, &[kind::CREDIT], None, 1)
            .await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let mut history = Vec::with_capacity(rows.len());
        for row in &rows {
            let (meta, body) = shower.show(&mut tx, row).await?;
            history.push(credit_view(meta, body));
        }
        let current = match latest.first() {
            Some(row) => {
                let (meta, body) = shower.show(&mut tx, row).await?;
                Some(credit_view(meta, body))
            }
            None => None,
        };
        tx.rollback().await?;
        Ok(Located::Here(CreditHistory {
            current,
            history,
            next_cursor,
        }))
    }
}

fn checked_credit(input: &NewCredit) -> AppResult<Credit> {
    let mut f = Form::default();
    let rating = f.required_text("rating", Some(&input.rating), KEY_TEXT, false);
    let rated_on = f.date("rated_on", Some(&input.rated_on));
    if input.rated_on.trim().is_empty() {
        f.required("rated_on");
    }
    let source = f.text("source", input.source.as_deref(), SHORT_TEXT, false);
    let limit_fen = f.amount("limit", input.limit.as_ref());
    let overdue_fen = f.amount("overdue_amount", input.overdue_amount.as_ref());
    let overdue_days = f.int_in("overdue_days", input.overdue_days, 0..=36_500);
    f.finish()?;
    let overdue_fen = overdue_fen.unwrap_or(0);
    Ok(Credit {
        rating,
        rated_on: rated_on.map(|d| d.to_string()).unwrap_or_default(),
        source,
        limit: limit_fen.map(yuan_text),
        limit_fen,
        overdue_amount: yuan_text(overdue_fen),
        overdue_amount_fen: overdue_fen,
        overdue_days: overdue_days.unwrap_or(0),
        defaulted: input.defaulted.unwrap_or(false),
    })
}
