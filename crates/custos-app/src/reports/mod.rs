//! Reports for `stats.read` (统计分析报表): new and lost customers per month
//! (`customer_flow`) and the repeat-purchase rate 复购率 (`repeat_purchase`), each counting
//! only the customers in the caller's `stats.read` scope from tables kept with every change
//! (life-cycle rows, transitions, order totals per customer and month), so a report costs
//! the same whatever the number of records; and code usage per rule and month
//! (`code_usage`). Every one covers a range of calendar months (`months`).

pub mod code_usage;
mod customer_flow;
pub mod months;
mod repeat_purchase;
mod service;
pub use service::Reports;

pub use code_usage::{CodeUsageReport, RuleUsage};
pub use customer_flow::{CustomerFlow, FlowMonth};
pub use months::{MonthRange, MonthsQuery};
pub use repeat_purchase::{MonthRate, RateBucket, RepeatPurchase};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::months::months_of;
    use super::repeat_purchase::rate;
    use super::*;
    use chrono::NaiveDate;

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
