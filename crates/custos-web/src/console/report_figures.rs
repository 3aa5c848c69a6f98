//! The customer reports on `/stats`: new and lost customers per month and the
//! repeat-purchase rate (复购率), from `GET /api/v1/reports/customer-flow` and
//! `/repeat-purchase`, as tables and ECharts options.

use serde_json::json;

use custos_app::reports::{CustomerFlow, RateBucket, RepeatPurchase};
use custos_core::violation::Lang;

use super::i18n::t;

/// The two reports as the page shows them.
pub(crate) struct ReportPart {
    /// `(month, new by first deal, created, lost)`, oldest first.
    pub flow: Vec<(String, i64, i64, i64)>,
    pub flow_option: String,
    /// The overall rate in words, e.g. `75.0%（3/4）`.
    pub rate: String,
    /// `(group, name, buyers, repeat buyers, rate)` per type then per department.
    pub rate_rows: Vec<(String, String, i64, i64, String)>,
    /// `(month, buyers, returning, rate)`.
    pub rate_months: Vec<(String, i64, i64, String)>,
    pub rate_option: String,
}

/// A rate as a percentage with one decimal; a dash without buyers.
pub(crate) fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

fn rows(
    lang: Lang,
    group: &str,
    buckets: &[RateBucket],
) -> Vec<(String, String, i64, i64, String)> {
    buckets
        .iter()
        .map(|b| {
            (
                t(lang, group).to_string(),
                b.label
                    .clone()
                    .or_else(|| b.key.clone())
                    .unwrap_or_else(|| t(lang, "figures.blank").to_string()),
                b.buyers,
                b.repeat_buyers,
                percent(b.rate),
            )
        })
        .collect()
}

/// Line charts without animation and with canvas tooltips (the CSP refuses ECharts' HTML
/// tooltips), as the other figures.
fn lines(months: &[String], series: Vec<(String, serde_json::Value)>) -> String {
    json!({
        "animation": false,
        "tooltip": {"trigger": "axis", "renderMode": "richText"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": true},
        "xAxis": {"type": "category", "data": months},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": series.into_iter().map(|(name, data)| json!({
            "type": "line", "name": name, "data": data,
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

pub(crate) fn report_part(lang: Lang, flow: &CustomerFlow, rp: &RepeatPurchase) -> ReportPart {
    let months: Vec<String> = flow.months.iter().map(|m| m.month.clone()).collect();
    let flow_option = lines(
        &months,
        vec![
            (
                t(lang, "reports.new").to_string(),
                json!(flow
                    .months
                    .iter()
                    .map(|m| m.new_customers)
                    .collect::<Vec<_>>()),
            ),
            (
                t(lang, "reports.created").to_string(),
                json!(flow.months.iter().map(|m| m.created).collect::<Vec<_>>()),
            ),
            (
                t(lang, "reports.lost").to_string(),
                json!(flow.months.iter().map(|m| m.lost).collect::<Vec<_>>()),
            ),
        ],
    );
    let rate_months_list: Vec<String> = rp.months.iter().map(|m| m.month.clone()).collect();
    let rate_option = lines(
        &rate_months_list,
        vec![(
            t(lang, "reports.month_rate").to_string(),
            json!(rp
                .months
                .iter()
                .map(|m| m.rate.map(|r| (r * 1000.0).round() / 10.0))
                .collect::<Vec<_>>()),
        )],
    );
    let mut rate_rows = rows(lang, "reports.by_type", &rp.by_type);
    rate_rows.extend(rows(lang, "reports.by_department", &rp.by_department));
    ReportPart {
        flow: flow
            .months
            .iter()
            .map(|m| (m.month.clone(), m.new_customers, m.created, m.lost))
            .collect(),
        flow_option,
        rate: format!("{}（{}/{}）", percent(rp.rate), rp.repeat_buyers, rp.buyers),
        rate_rows,
        rate_months: rp
            .months
            .iter()
            .map(|m| (m.month.clone(), m.buyers, m.returning, percent(m.rate)))
            .collect(),
        rate_option,
    }
}
