//! The months a report covers: `from`/`to` as `YYYY-MM` (both inclusive), by default the
//! twelve months up to the current one, at most 36, with their first instants in the
//! business time zone.

use chrono::{Datelike, NaiveDate, TimeZone};
use serde::Deserialize;

use custos_core::Violation;

use crate::error::{AppError, AppResult};

/// Months a report covers unless asked otherwise, and the most it covers.
pub const DEFAULT_MONTHS: u32 = 12;
pub const MAX_MONTHS: u32 = 36;

/// Query parameters of a report over months.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// First month, `YYYY-MM` (default: eleven months before `to`).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (default: the current month).
    pub to: Option<String>,
}

/// Consecutive calendar months, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRange {
    months: Vec<(i32, u32)>,
    tz: chrono_tz::Tz,
}

fn parse_month(field: &str, text: &str) -> AppResult<(i32, u32)> {
    let parsed = NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2999).contains(&d.year()) && text.trim().len() == 7);
    match parsed {
        Some(d) => Ok((d.year(), d.month())),
        None => Err(AppError::validation(
            field,
            Violation::new(
                "report.month_invalid",
                format!("{field} 应为 YYYY-MM 格式的月份（2000–2999 年），收到“{text}”"),
                format!("{field} must be a month YYYY-MM (years 2000–2999), got '{text}'"),
            ),
        )),
    }
}

fn step_back(ym: (i32, u32), n: u32) -> (i32, u32) {
    let index = ym.0 * 12 + ym.1 as i32 - 1 - n as i32;
    (index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
}

fn step(ym: (i32, u32)) -> (i32, u32) {
    if ym.1 == 12 {
        (ym.0 + 1, 1)
    } else {
        (ym.0, ym.1 + 1)
    }
}

impl MonthRange {
    /// The months `q` asks for, `today` being the current date in `tz`.
    pub fn parse(q: &MonthQuery, today: NaiveDate, tz: chrono_tz::Tz) -> AppResult<MonthRange> {
        let to = match q.to.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(t) => parse_month("to", t)?,
            None => (today.year(), today.month()),
        };
        let from = match q.from.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(f) => parse_month("from", f)?,
            None => step_back(to, DEFAULT_MONTHS - 1),
        };
        let span = (to.0 * 12 + to.1 as i32) - (from.0 * 12 + from.1 as i32) + 1;
        if span < 1 || span > MAX_MONTHS as i32 {
            return Err(AppError::validation(
                "from",
                Violation::new(
                    "report.months_range",
                    format!("from 须不晚于 to，且最多跨 {MAX_MONTHS} 个月"),
                    format!("from must not be after to, and cover at most {MAX_MONTHS} months"),
                ),
            ));
        }
        let mut months = vec![from];
        while *months.last().unwrap_or(&to) != to {
            let next = step(*months.last().unwrap_or(&to));
            months.push(next);
        }
        Ok(MonthRange { months, tz })
    }

    /// `YYYY-MM` of each month, oldest first.
    pub fn labels(&self) -> Vec<String> {
        self.months
            .iter()
            .map(|(y, m)| format!("{y:04}-{m:02}"))
            .collect()
    }

    /// The first instant of each month and of the month after the last (microseconds):
    /// month `i` is `[bounds[i], bounds[i + 1])`.
    pub fn bounds_us(&self) -> Vec<i64> {
        let mut starts: Vec<(i32, u32)> = self.months.clone();
        if let Some(last) = self.months.last() {
            starts.push(step(*last));
        }
        starts
            .into_iter()
            .map(|(y, m)| {
                self.tz
                    .with_ymd_and_hms(y, m, 1, 0, 0, 0)
                    .earliest()
                    .map(|t| t.timestamp_micros())
                    .unwrap_or_default()
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.months.len()
    }

    pub fn is_empty(&self) -> bool {
        self.months.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn q(from: Option<&str>, to: Option<&str>) -> MonthQuery {
        MonthQuery {
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn defaults_to_the_twelve_months_up_to_today() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let r = MonthRange::parse(&q(None, None), today, chrono_tz::Asia::Shanghai).unwrap();
        let labels = r.labels();
        assert_eq!(labels.len(), 12);
        assert_eq!(labels[0], "2025-04");
        assert_eq!(labels[11], "2026-03");
        let b = r.bounds_us();
        assert_eq!(b.len(), 13);
        // 2025-04-01 00:00 in Shanghai is 2025-03-31 16:00 UTC.
        let first = chrono::DateTime::from_timestamp_micros(b[0]).unwrap();
        assert_eq!(first.to_rfc3339(), "2025-03-31T16:00:00+00:00");
    }

    #[test]
    fn refuses_bad_and_backward_and_too_long_ranges() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        for (from, to) in [
            (Some("2026-13"), None),
            (Some("2026-1"), None),
            (Some("2026-03-01"), None),
            (Some("2026-04"), Some("2026-03")),
            (Some("2020-01"), Some("2026-03")),
        ] {
            assert!(
                MonthRange::parse(&q(from, to), today, tz).is_err(),
                "{from:?} {to:?}"
            );
        }
        let one = MonthRange::parse(&q(Some("2025-12"), Some("2025-12")), today, tz).unwrap();
        assert_eq!(one.labels(), ["2025-12"]);
        let wrap = MonthRange::parse(&q(Some("2025-11"), Some("2026-02")), today, tz).unwrap();
        assert_eq!(wrap.labels(), ["2025-11", "2025-12", "2026-01", "2026-02"]);
    }
}
