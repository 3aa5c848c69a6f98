//! The console's 工作台 (dashboard) and 统计 (statistics) figures: the viewer's pending
//! tasks, their recent customers and the statistics of the customers in their data scope —
//! each part only for a viewer holding its permission — and the statistics as an XLSX
//! workbook (audited).

use crate::reports::Reports;
use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone};
use serde_json::json;

use custos_core::industry;
use custos_core::violation::Lang;
use custos_files::xlsx_writer::XlsxStream;

use crate::applications::InboxItem;
use crate::audit::{append, record};
use crate::codes::issue_date;
use crate::error::{AppError, AppResult};
use crate::search::{CustomerQuery, CustomerStats, CustomerSummary, StatBucket};
use crate::terms::{term_or_code, Terms};
use crate::Actor;

/// Recent customers shown on the dashboard.
pub const RECENT_CUSTOMERS: i64 = 8;

/// Months of new customers the dashboard shows, the current one last.
pub const DASHBOARD_MONTHS: usize = 12;

/// New customers in one calendar month of the business time zone, with the bounds a
/// customer-list filter (`created_from`, `created_to`) takes for it.
#[derive(Debug, Clone)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    pub count: i64,
    /// RFC 3339, inclusive.
    pub created_from: String,
    /// RFC 3339, exclusive: the first instant of the next month.
    pub created_to: String,
}

/// The figures of the dashboard and the statistics page.
#[derive(Debug, Clone)]
pub struct StatsView {
    pub stats: CustomerStats,
    /// The last [`DASHBOARD_MONTHS`] months, empty months included, oldest first.
    pub months: Vec<MonthCount>,
    /// Customers per industry section (门类), divisions counted in their section;
    /// `key` is the section letter, `None` for customers without an industry.
    pub by_section: Vec<StatBucket>,
}

/// What the dashboard shows a viewer; a part is `None` when the viewer lacks its
/// permission (`application.approve`, `customer.read`, `stats.read`).
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub tasks: Option<Vec<InboxItem>>,
    pub recent: Option<Vec<CustomerSummary>>,
    pub figures: Option<StatsView>,
    /// The viewer's reminders due today or overdue (今日提醒), with `customer.read`.
    pub reminders: Option<Vec<crate::reminders::ReminderView>>,
    /// No code rule is published and the viewer may publish one: lead them to `/rules`.
    pub needs_rule: bool,
}

/// The first instant of the month `(y, m)` in `tz`, as RFC 3339.
fn month_start(tz: chrono_tz::Tz, y: i32, m: u32) -> String {
    match tz.with_ymd_and_hms(y, m, 1, 0, 0, 0).earliest() {
        Some(t) => t.to_rfc3339(),
        None => format!("{y:04}-{m:02}-01T00:00:00Z"),
    }
}

fn next_month(y: i32, m: u32) -> (i32, u32) {
    if m == 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

/// The `n` months up to the one holding `today`, with their counts from `per_month`.
fn last_months(
    per_month: &[StatBucket],
    today: NaiveDate,
    n: usize,
    tz: chrono_tz::Tz,
) -> Vec<MonthCount> {
    let mut y = today.year();
    let mut m = today.month();
    let mut months = Vec::with_capacity(n);
    for _ in 0..n {
        months.push((y, m));
        (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    }
    months.reverse();
    months
        .into_iter()
        .map(|(y, m)| {
            let month = format!("{y:04}-{m:02}");
            let count = per_month
                .iter()
                .find(|b| b.key.as_deref() == Some(month.as_str()))
                .map_or(0, |b| b.count);
            let (ny, nm) = next_month(y, m);
            MonthCount {
                created_from: month_start(tz, y, m),
                created_to: month_start(tz, ny, nm),
                month,
                count,
            }
        })
        .collect()
}

/// Industry counts rolled up to sections, largest first.
fn by_section(by_industry: &[StatBucket]) -> Vec<StatBucket> {
    let mut counts: BTreeMap<Option<&'static str>, i64> = BTreeMap::new();
    for b in by_industry {
        let section = b.key.as_deref().and_then(|k| {
            industry::lookup(k).map(|i| match industry::section_of(k) {
                Some(s) => s.code,
                None => i.code,
            })
        });
        *counts.entry(section).or_default() += b.count;
    }
    let mut out: Vec<StatBucket> = counts
        .into_iter()
        .map(|(k, count)| StatBucket {
            label: k.and_then(industry::name).map(str::to_string),
            key: k.map(str::to_string),
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    out
}

fn bucket_name(b: &StatBucket) -> String {
    b.label
        .clone()
        .or_else(|| b.key.clone())
        .unwrap_or_else(|| "—".into())
}

impl Reports<'_> {
    /// The statistics of the caller's `stats.read` scope with the dashboard's monthly
    /// series and industry sections.
    pub async fn customer_figures(&self, actor: &Actor) -> AppResult<StatsView> {
        let stats = self.app.customers().customer_stats(actor).await?;
        let today = issue_date(self.app.config.code_timezone);
        let months = last_months(
            &stats.new_per_month,
            today,
            DASHBOARD_MONTHS,
            self.app.config.code_timezone,
        );
        let by_section = by_section(&stats.by_industry);
        Ok(StatsView {
            stats,
            months,
            by_section,
        })
    }

    /// The dashboard of `actor`: each part the caller's permissions allow, within their
    /// data scope.
    pub async fn dashboard(&self, actor: &Actor) -> AppResult<Dashboard> {
        let tasks = match actor.can("application.approve") {
            true => Some(self.app.applications().inbox(actor).await?.pending),
            false => None,
        };
        let recent = match actor.can("customer.read") {
            true => {
                let q = CustomerQuery {
                    owner: Some(actor.user_id),
                    sort: Some("-updated_at".into()),
                    limit: Some(RECENT_CUSTOMERS),
                    ..Default::default()
                };
                Some(self.app.customers().search_customers(actor, q).await?.items)
            }
            false => None,
        };
        let figures = match actor.can("stats.read") {
            true => Some(self.customer_figures(actor).await?),
            false => None,
        };
        let reminders = match actor.can("customer.read") {
            true => Some(self.app.lifecycle().my_reminders(actor).await?),
            false => None,
        };
        let needs_rule = self.app.codes().needs_first_code_rule(actor).await?;
        Ok(Dashboard {
            reminders,
            tasks,
            recent,
            figures,
            needs_rule,
        })
    }

    /// The customer statistics of the caller's `stats.read` scope as an XLSX workbook,
    /// labelled with business terms in `lang`. Counts carry no personal data, so
    /// `stats.read` is enough; the export is audited like customer exports.
    pub async fn export_customer_stats_xlsx(
        &self,
        actor: &Actor,
        lang: Lang,
    ) -> AppResult<Vec<u8>> {
        let view = self.customer_figures(actor).await?;
        let mut rows = stats_rows(&view, lang);
        let months = crate::reports::MonthsQuery::default();
        let flow = self.customer_flow(actor, &months).await?;
        let repeat = self.repeat_purchase(actor, &months).await?;
        rows.extend(crate::reports::report_rows(&flow, &repeat, lang));
        let headers: [&str; 4] = match lang {
            Lang::Zh => ["分组", "代码", "名称", "客户数"],
            Lang::En => ["Group", "Code", "Name", "Customers"],
        };
        let sheet = match lang {
            Lang::Zh => "客户统计",
            Lang::En => "Customer statistics",
        };
        let io = |e: std::io::Error| AppError::Internal(format!("statistics workbook: {e}"));
        let mut book = XlsxStream::named(Vec::new(), &headers, sheet).map_err(io)?;
        for r in &rows {
            book.write_row(r).map_err(io)?;
        }
        let bytes = book.finish().map_err(io)?;
        let mut tx = self.app.db.begin().await?;
        let mut r = record(actor, "stats.export", "stats", "customers");
        r.after = Some(
            json!({"format": "xlsx", "rows": rows.len(), "total": view.stats.total}).to_string(),
        );
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(bytes)
    }
}

/// The rows of the statistics workbook: `[group, code, name, count]`.
fn stats_rows(view: &StatsView, lang: Lang) -> Vec<[String; 4]> {
    let zh = lang == Lang::Zh;
    let s = &view.stats;
    let mut rows = vec![[
        if zh { "合计" } else { "Total" }.to_string(),
        String::new(),
        String::new(),
        s.total.to_string(),
    ]];
    let mut group = |name: &str, buckets: &[StatBucket], terms: Option<Terms>| {
        for b in buckets {
            let label = match (terms, b.key.as_deref()) {
                (Some(t), Some(k)) => term_or_code(t, k, lang),
                _ => bucket_name(b),
            };
            rows.push([
                name.to_string(),
                b.key.clone().unwrap_or_default(),
                label,
                b.count.to_string(),
            ]);
        }
    };
    let names = |zh_name: &'static str, en_name: &'static str| if zh { zh_name } else { en_name };
    group(names("客户类型", "Customer type"), &s.by_type, None);
    group(
        names("客户状态", "Status"),
        &s.by_status,
        Some(Terms::CustomerStatus),
    );
    group(names("客户等级", "Level"), &s.by_level, None);
    group(names("省份", "Province"), &s.by_province, None);
    group(names("城市", "City"), &s.by_city, None);
    group(
        names("行业门类", "Industry section"),
        &view.by_section,
        None,
    );
    group(names("行业", "Industry"), &s.by_industry, None);
    group(names("部门", "Department"), &s.by_department, None);
    group(names("新增月份", "Month created"), &s.new_per_month, None);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_months_end_with_the_current_one_and_fill_empty_months() {
        let per = vec![StatBucket {
            key: Some("2026-03".into()),
            label: None,
            count: 7,
        }];
        let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
        let m = last_months(&per, today, 12, chrono_tz::Asia::Shanghai);
        assert_eq!(m.len(), 12);
        assert_eq!(m[0].month, "2025-12");
        assert_eq!(m[11].month, "2026-11");
        assert_eq!(m[3].count, 7);
        assert_eq!(m[0].created_from, "2025-12-01T00:00:00+08:00");
        assert_eq!(m[0].created_to, "2026-01-01T00:00:00+08:00");
        assert_eq!(m.iter().map(|x| x.count).sum::<i64>(), 7);
    }

    #[test]
    fn divisions_count_in_their_section() {
        let b = |k: &str, n| StatBucket {
            key: Some(k.into()),
            label: None,
            count: n,
        };
        let s = by_section(&[b("13", 2), b("14", 3), b("C", 1), b("65", 4)]);
        assert_eq!(s[0].key.as_deref(), Some("C"));
        assert_eq!(s[0].count, 6);
        assert_eq!(s[1].key.as_deref(), Some("I"));
    }
}
