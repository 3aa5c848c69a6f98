//! Customer reports for `stats.read` (客户报表): new and lost customers per month
//! (`customer_flow`) and the repeat-purchase rate 复购率 (`repeat_purchase`). Each counts
//! only the customers in the caller's `stats.read` scope, from tables kept with every
//! change (life-cycle rows, transitions, order totals per customer and month), so a
//! report costs the same whatever the number of records.

mod customer_flow;
mod repeat_purchase;

use chrono::{Datelike, NaiveDate};
use custos_core::Violation;
use serde::Deserialize;

use crate::error::{AppError, AppResult};

pub use customer_flow::{CustomerFlow, FlowMonth};
pub use repeat_purchase::{MonthRate, RateBucket, RepeatPurchase};

/// Months a report covers unless asked otherwise, and at most.
pub const DEFAULT_MONTHS: u32 = 12;
pub const MAX_MONTHS: u32 = 60;

/// Query of the monthly reports: `from` and `to` (`YYYY-MM`, both included; default the
/// last 12 months up to the current one).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthsQuery {
    /// First month, `YYYY-MM`.
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (at most 60 months after `from`).
    pub to: Option<String>,
}

/// The months of a report, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Months {
    pub list: Vec<String>,
}

impl Months {
    /// The first month, and the month after the last (exclusive bound of the queries).
    pub fn bounds(&self) -> (String, String) {
        let first = self.list.first().cloned().unwrap_or_default();
        let last = self.list.last().cloned().unwrap_or_default();
        let end = parse_month(&last)
            .map(|(y, m)| {
                let (y, m) = next(y, m);
                format!("{y:04}-{m:02}")
            })
            .unwrap_or_default();
        (first, end)
    }
}

fn next(y: i32, m: u32) -> (i32, u32) {
    if m == 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

fn parse_month(s: &str) -> Option<(i32, u32)> {
    let s = s.trim();
    if s.len() != 7 {
        return None;
    }
    let d = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok()?;
    (1900..=9999)
        .contains(&d.year())
        .then_some((d.year(), d.month()))
}

fn bad_month(field: &str, value: &str) -> AppError {
    AppError::validation(
        field,
        Violation::new(
            "month.invalid",
            format!("“{value}”不是月份，应为 YYYY-MM"),
            format!("'{value}' is not a month: use YYYY-MM"),
        ),
    )
}

/// The months `q` asks for, `today` giving the default.
pub(crate) fn months_of(q: &MonthsQuery, today: NaiveDate) -> AppResult<Months> {
    let given = |field: &str, v: &Option<String>| -> AppResult<Option<(i32, u32)>> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => parse_month(s).map(Some).ok_or_else(|| bad_month(field, s)),
        }
    };
    let to = given("to", &q.to)?.unwrap_or((today.year(), today.month()));
    let from = match given("from", &q.from)? {
        Some(f) => f,
        None => {
            let n = to.0 * 12 + to.1 as i32 - 1 - (DEFAULT_MONTHS as i32 - 1);
            (n.div_euclid(12), n.rem_euclid(12) as u32 + 1)
        }
    };
    let span = (to.0 * 12 + to.1 as i32) - (from.0 * 12 + from.1 as i32) + 1;
    if span < 1 || span > MAX_MONTHS as i32 {
        return Err(AppError::validation(
            "from",
            Violation::new(
                "month.range",
                format!("起止月份须为 1–{MAX_MONTHS} 个月，且 from 不晚于 to"),
                format!("from..to must span 1–{MAX_MONTHS} months, from not after to"),
            ),
        ));
    }
    let mut list = Vec::with_capacity(span as usize);
    let mut at = from;
    for _ in 0..span {
        list.push(format!("{:04}-{:02}", at.0, at.1));
        at = next(at.0, at.1);
    }
    Ok(Months { list })
}

/// The reports as rows `[group, code, name, count]` of the statistics workbook: the
/// monthly counts (code: the month), buyers and repeat buyers per customer type and
/// department, and the rates as percentages.
pub(crate) fn report_rows(
    flow: &CustomerFlow,
    repeat: &RepeatPurchase,
    lang: custos_core::violation::Lang,
) -> Vec<[String; 4]> {
    let zh = lang == custos_core::violation::Lang::Zh;
    let w = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
    let pct = |r: Option<f64>| r.map_or_else(String::new, |r| format!("{:.1}%", r * 100.0));
    let mut rows = Vec::new();
    for m in &flow.months {
        rows.push([
            w("新客户（首单/首签）", "New (first deal)"),
            m.month.clone(),
            String::new(),
            m.new_customers.to_string(),
        ]);
        rows.push([
            w("新建档案", "Created"),
            m.month.clone(),
            String::new(),
            m.created.to_string(),
        ]);
        rows.push([
            w("流失客户", "Lost"),
            m.month.clone(),
            String::new(),
            m.lost.to_string(),
        ]);
    }
    rows.push([
        w("复购率", "Repeat-purchase rate"),
        String::new(),
        w("整体", "Overall"),
        pct(repeat.rate),
    ]);
    rows.push([
        w("下单客户", "Buyers"),
        String::new(),
        w("整体", "Overall"),
        repeat.buyers.to_string(),
    ]);
    rows.push([
        w("复购客户", "Repeat buyers"),
        String::new(),
        w("整体", "Overall"),
        repeat.repeat_buyers.to_string(),
    ]);
    let groups = [
        (w("客户类型", "Customer type"), &repeat.by_type),
        (w("部门", "Department"), &repeat.by_department),
    ];
    for (group, buckets) in groups {
        for b in buckets {
            let key = b.key.clone().unwrap_or_default();
            let name = b.label.clone().unwrap_or_default();
            rows.push([
                format!("{}·{group}", w("复购率", "Rate")),
                key.clone(),
                name.clone(),
                pct(b.rate),
            ]);
            rows.push([
                format!("{}·{group}", w("下单客户", "Buyers")),
                key.clone(),
                name.clone(),
                b.buyers.to_string(),
            ]);
            rows.push([
                format!("{}·{group}", w("复购客户", "Repeat buyers")),
                key,
                name,
                b.repeat_buyers.to_string(),
            ]);
        }
    }
    for m in &repeat.months {
        rows.push([
            w("当月复购率", "Monthly rate"),
            m.month.clone(),
            String::new(),
            pct(m.rate),
        ]);
    }
    rows
}

/// `part / whole` to four decimals; none of nothing.
pub(crate) fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn q(from: Option<&str>, to: Option<&str>) -> MonthsQuery {
        MonthsQuery {
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        }
    }

    #[test]
    fn months_default_to_the_last_twelve_and_are_checked() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let m = months_of(&q(None, None), today).unwrap();
        assert_eq!(m.list.len(), 12);
        assert_eq!(m.list[0], "2025-04");
        assert_eq!(m.bounds(), ("2025-04".to_string(), "2026-04".to_string()));
        let m = months_of(&q(Some("2025-11"), Some("2026-01")), today).unwrap();
        assert_eq!(m.list, ["2025-11", "2025-12", "2026-01"]);
        assert_eq!(m.bounds().1, "2026-02");
        for (f, t) in [
            (Some("2026-02"), Some("2026-01")),
            (Some("2020-01"), Some("2026-01")),
            (Some("2026-13"), None),
            (Some("26-01"), None),
        ] {
            assert_eq!(months_of(&q(f, t), today).unwrap_err().status(), 422);
        }
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(0, 0), None);
    }
}
