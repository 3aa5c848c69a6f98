//! The months a report covers: `from`/`to` as `YYYY-MM` (both included), by default the
//! twelve months up to the current one, at most 60; and their first instants in the
//! business time zone for reports that count timestamps.

use chrono::{Datelike, NaiveDate, TimeZone};
use serde::Deserialize;

use custos_core::Violation;

use crate::error::{AppError, AppResult};

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

/// Consecutive calendar months, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRange {
    months: Vec<(i32, u32)>,
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

fn next((y, m): (i32, u32)) -> (i32, u32) {
    if m == 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

/// `YYYY-MM` of the month after `month` (empty for a text that is not a month).
pub(crate) fn month_after(month: &str) -> String {
    parse_month(month)
        .map(|ym| {
            let (y, m) = next(ym);
            format!("{y:04}-{m:02}")
        })
        .unwrap_or_default()
}

impl MonthRange {
    /// The months `q` asks for, `today` giving the default.
    pub fn parse(q: &MonthsQuery, today: NaiveDate) -> AppResult<MonthRange> {
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
        let mut months = Vec::with_capacity(span as usize);
        let mut at = from;
        for _ in 0..span {
            months.push(at);
            at = next(at);
        }
        Ok(MonthRange { months })
    }

    /// `YYYY-MM` of each month, oldest first.
    pub fn labels(&self) -> Vec<String> {
        self.months
            .iter()
            .map(|(y, m)| format!("{y:04}-{m:02}"))
            .collect()
    }

    /// The first instant in `tz` of each month and of the month after the last
    /// (microseconds): month `i` is `[bounds[i], bounds[i + 1])`.
    pub fn bounds_us(&self, tz: chrono_tz::Tz) -> Vec<i64> {
        let mut starts = self.months.clone();
        if let Some(last) = self.months.last() {
            starts.push(next(*last));
        }
        starts
            .into_iter()
            .map(|(y, m)| {
                tz.with_ymd_and_hms(y, m, 1, 0, 0, 0)
                    .earliest()
                    .map(|t| t.timestamp_micros())
                    .unwrap_or_default()
            })
            .collect()
    }
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
        let end = self.list.last().map(|m| month_after(m)).unwrap_or_default();
        (first, end)
    }
}

/// The months `q` asks for, `today` giving the default.
pub(crate) fn months_of(q: &MonthsQuery, today: NaiveDate) -> AppResult<Months> {
    Ok(Months {
        list: MonthRange::parse(q, today)?.labels(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn q(from: Option<&str>, to: Option<&str>) -> MonthsQuery {
        MonthsQuery {
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn bounds_are_the_month_starts_in_the_business_time_zone() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let r = MonthRange::parse(&q(None, None), today).unwrap();
        let labels = r.labels();
        assert_eq!((labels.len(), labels[0].as_str()), (12, "2025-04"));
        let b = r.bounds_us(chrono_tz::Asia::Shanghai);
        assert_eq!(b.len(), 13);
        // 2025-04-01 00:00 in Shanghai is 2025-03-31 16:00 UTC.
        let first = chrono::DateTime::from_timestamp_micros(b[0]).unwrap();
        assert_eq!(first.to_rfc3339(), "2025-03-31T16:00:00+00:00");
        let one = MonthRange::parse(&q(Some("2025-12"), Some("2025-12")), today).unwrap();
        assert_eq!(one.labels(), ["2025-12"]);
        assert_eq!(month_after("2025-12"), "2026-01");
    }
}
