//! Synthetic business records for the demo and the benchmarks: follow-ups, visits and
//! calls, complaints with their service records, contracts, orders and payments, spread
//! over three years, stored as the use cases store them (free texts encrypted) but many
//! rows a statement. Only the demo and `custos bench` call this.

use crate::activities::Activities;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use custos_store::{now_us, ActivityRow};

use super::contracts::Contract;
use super::followups::Followup;
use super::interactions::Interaction;
use super::kind;
use super::orders::Order;
use super::records::{encode, Body};
use super::service_record::ServiceRecord;
use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;
use crate::Actor;

/// Rows generated before they are written in one transaction.
const BATCH: usize = 5_000;

const NOTES: &[&str] = &[
    "电话沟通年度采购计划，客户关注交付周期",
    "上门拜访采购部，介绍新版本功能",
    "客户反馈上季度发票已收到，确认对账无误",
    "微信沟通报价细节，对方希望分两期付款",
    "会议讨论试点方案，技术负责人参加",
    "邮件发送产品资料和案例，约下周回访",
];
const RESULTS: &[&str] = &["需求确认", "方案提交", "合同待签", "已成交", "无意向"];
const CHANNELS: &[&str] = &["visit", "call", "wechat", "email", "meeting"];
const PRODUCTS: &[&str] = &[
    "工业网关",
    "云存储服务",
    "财务软件",
    "安防摄像机",
    "维保服务",
];

/// `(year, month, day)` of a microsecond time, UTC.
fn day_of(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn time_of(us: i64) -> String {
    crate::clock::format_time(us)
}

fn body<B: Body>(key: &PiiKey, by: &str, v: serde_json::Value) -> AppResult<String> {
    let b: B = serde_json::from_value(v)
        .map_err(|e| AppError::Internal(format!("synthetic record: {e}")))?;
    Ok(encode(key, by, &b))
}

/// Makes one record after another for given customers.
struct Maker {
    rng: StdRng,
    key: PiiKey,
    by: String,
    user: i64,
    now: i64,
    documents: u64,
}

impl Maker {
    fn row(&mut self, customer_id: i64) -> AppResult<ActivityRow> {
        const THREE_YEARS_US: i64 = 3 * 365 * 86_400 * 1_000_000;
        let at = self.now - self.rng.gen_range(0..THREE_YEARS_US);
        let mut row = ActivityRow {
            id: 0,
            kind: String::new(),
            customer_id,
            origin_customer_id: customer_id,
            occurred_at: at,
            status: None,
            ref_key: None,
            source_key: None,
            linked_id: None,
            amount_fen: None,
            body: String::new(),
            recorded_at: at,
            recorded_by: Some(self.user),
            updated_at: at,
        };
        let (key, by) = (self.key.clone(), self.by.clone());
        let note = NOTES[self.rng.gen_range(0..NOTES.len())];
        let product = PRODUCTS[self.rng.gen_range(0..PRODUCTS.len())];
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=39 => {
                let next = (self.rng.gen_bool(0.3))
                    .then(|| day_of(at + self.rng.gen_range(1..60) * 86_400_000_000));
                row.kind = kind::FOLLOWUP.into();
                row.ref_key = next.clone();
                row.body = body::<Followup>(
                    &key,
                    &by,
                    json!({
                        "followed_at": time_of(at),
                        "channel": CHANNELS[self.rng.gen_range(0..CHANNELS.len())],
                        "content": note,
                        "result": RESULTS[self.rng.gen_range(0..RESULTS.len())],
                        "next_plan": next.as_ref().map(|_| "再次回访，确认采购数量"),
                        "next_date": next,
                    }),
                )?;
            }
            40..=51 => {
                row.kind = kind::INTERACTION.into();
                row.body = body::<Interaction>(
                    &key,
                    &by,
                    json!({
                        "kind": if self.rng.gen_bool(0.5) { "visit" } else { "call" },
                        "occurred_at": time_of(at), "content": note,
                    }),
                )?;
            }
            52..=55 => {
                let states = ["open", "in_progress", "resolved", "closed"];
                let state = states[self.rng.gen_range(0..states.len())];
                row.kind = kind::INTERACTION.into();
                row.status = Some(state.into());
                row.body = body::<Interaction>(
                    &key,
                    &by,
                    json!({
                        "kind": "complaint", "occurred_at": time_of(at),
                        "content": format!("{product}故障，客户投诉响应慢"),
                        "handler_id": self.user, "status": state,
                        "satisfaction": matches!(state, "resolved" | "closed").then_some(4),
                    }),
                )?;
            }
            56..=59 => {
                row.kind = kind::SERVICE.into();
                row.body = body::<ServiceRecord>(
                    &key,
                    &by,
                    json!({
                        "served_at": time_of(at), "product": product, "model": "X-200",
                        "problem": "设备无法联网", "resolution": "更换电源模块后恢复",
                    }),
                )?;
            }
            60..=64 => {
                self.documents += 1;
                let fen = self.rng.gen_range(1_000_000..500_000_000_i64);
                let number = format!("HT{}{:07}", &day_of(at)[..4], self.documents);
                row.kind = kind::CONTRACT.into();
                row.status = Some("signed".into());
                row.ref_key = Some(number.clone());
                row.amount_fen = Some(fen);
                row.body = body::<Contract>(
                    &key,
                    &by,
                    json!({
                        "number": number, "signed_on": day_of(at),
                        "amount": format!("{}.{:02}", fen / 100, fen % 100), "amount_fen": fen,
                        "currency": "CNY", "products": product,
                        "service_expires_on": day_of(at + 365 * 86_400_000_000), "status": "signed",
                    }),
                )?;
            }
            _ => {
                self.documents += 1;
                let payment = roll >= 92;
                let fen = self.rng.gen_range(10_000..50_000_000_i64);
                let document = format!("SO{:09}", self.documents);
                row.kind = if payment { kind::PAYMENT } else { kind::ORDER }.into();
                row.ref_key = Some(day_of(at));
                row.source_key = Some(format!("ERP\u{1f}{document}"));
                row.amount_fen = Some(fen);
                row.body = body::<Order>(
                    &key,
                    &by,
                    json!({
                        "kind": row.kind, "source_system": "ERP", "document_number": document,
                        "date": day_of(at), "amount": format!("{}.{:02}", fen / 100, fen % 100),
                        "amount_fen": fen, "currency": "CNY", "remarks": null,
                    }),
                )?;
            }
        }
        Ok(row)
    }
}

impl Activities<'_> {
    /// `custos demo --activities N`: N synthetic records spread over every active
    /// customer (the demo's), recorded by `actor`. Returns the records written.
    pub async fn add_demo_activities(
        &self,
        actor: &Actor,
        total: u64,
        seed: u64,
        progress: impl FnMut(u64),
    ) -> AppResult<u64> {
        actor.require("activity.write")?;
        let mut codes = Vec::new();
        let mut after = String::new();
        let mut tx = self.app.db.begin_read().await?;
        loop {
            let page = tx.codes_after(&after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.code.clone();
            codes.extend(
                page.into_iter()
                    .filter(|c| c.status == "active" && c.customer_id.is_some())
                    .map(|c| c.code),
            );
        }
        tx.rollback().await?;
        self.add_synthetic_activities(actor, &codes, total, None, seed, progress)
            .await
    }

    /// Add `total` synthetic records spread evenly over the customers `codes` and `heavy`
    /// more on the customer `heavy_code`, recorded by `actor`; then count order totals
    /// again. `progress` gets the records written so far. Returns the records written.
    pub async fn add_synthetic_activities(
        &self,
        actor: &Actor,
        codes: &[String],
        total: u64,
        heavy: Option<(&str, u64)>,
        seed: u64,
        mut progress: impl FnMut(u64),
    ) -> AppResult<u64> {
        let mut ids = Vec::with_capacity(codes.len());
        let mut tx = self.app.db.begin_read().await?;
        for code in codes {
            if let Some(row) = tx.customer_by_code(code).await? {
                ids.push(row.id);
            }
        }
        let heavy_id = match heavy {
            Some((code, n)) => tx.customer_by_code(code).await?.map(|r| (r.id, n)),
            None => None,
        };
        tx.rollback().await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut maker = Maker {
            rng: StdRng::seed_from_u64(seed),
            key: self.app.config.pii_key.pinned(),
            by: actor.display_name.clone(),
            user: actor.user_id,
            now: now_us(),
            documents: 0,
        };
        let mut targets = (0..total).map(|i| ids[(i % ids.len() as u64) as usize]);
        let heavy_targets = heavy_id
            .into_iter()
            .flat_map(|(id, n)| (0..n).map(move |_| id));
        let mut all = targets.by_ref().chain(heavy_targets);
        let mut written = 0;
        loop {
            let mut rows = Vec::with_capacity(BATCH);
            for id in all.by_ref().take(BATCH) {
                rows.push(maker.row(id)?);
            }
            if rows.is_empty() {
                break;
            }
            let mut tx = self.app.db.begin().await?;
            tx.insert_activities(&rows).await?;
            tx.commit().await?;
            written += rows.len() as u64;
            progress(written);
        }
        let mut tx = self.app.db.begin().await?;
        tx.recount_all_order_totals().await?;
        tx.commit().await?;
        Ok(written)
    }
}
