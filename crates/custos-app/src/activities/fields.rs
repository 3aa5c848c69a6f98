//! Checks of the values of business records, each reporting into the caller's list of
//! errors so that every failing field is named at once: bounded text without refused
//! characters, closed lists, dates and times in a sane range, amounts in fen.

use chrono::{NaiveDate, TimeZone};

use custos_core::normalize::normalize_text;
use custos_core::text_guard::Lines;
use custos_core::{FieldError, Violation};
use serde_json::Value;

use crate::text_input::push_refused;

/// Most characters of a long free text (content, problem, resolution).
pub(crate) const LONG_TEXT: usize = 2000;
/// Most characters of a short text (a plan, a product, a source).
pub(crate) const SHORT_TEXT: usize = 200;
/// Most characters of a key (a contract or document number, a rating).
pub(crate) const KEY_TEXT: usize = 64;
/// The largest amount, in fen: 100 billion yuan.
pub(crate) const MAX_FEN: i64 = 10_000_000_000_000;
/// Earliest and latest years a date may have.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// Collects the errors of one input.
#[derive(Default)]
pub(crate) struct Form {
    pub errors: Vec<FieldError>,
}

impl Form {
    fn push(&mut self, field: &str, code: &str, zh: String, en: String) {
        self.errors.push(Violation::new(code, zh, en).on(field));
    }

    /// A text of at most `max` characters (trimmed; empty is none); `multi` allows line
    /// breaks and tabs.
    pub fn text(
        &mut self,
        field: &str,
        v: Option<&str>,
        max: usize,
        multi: bool,
    ) -> Option<String> {
        let raw = v?;
        let lines = if multi { Lines::Multi } else { Lines::Single };
        if push_refused(field, raw, lines, &mut self.errors) {
            return None;
        }
        let v = if multi {
            custos_core::text_guard::lf_line_breaks(raw)
                .trim()
                .to_string()
        } else {
            normalize_text(raw)
        };
        if v.is_empty() {
            return None;
        }
        let n = v.chars().count();
        if n > max {
            self.push(
                field,
                "length.max",
                format!("字段“{field}”不能超过 {max} 个字符（当前 {n} 个）"),
                format!("field '{field}' must not exceed {max} characters (has {n})"),
            );
            return None;
        }
        Some(v)
    }

    /// A text that must be present.
    pub fn required_text(
        &mut self,
        field: &str,
        v: Option<&str>,
        max: usize,
        multi: bool,
    ) -> String {
        let before = self.errors.len();
        match self.text(field, v, max, multi) {
            Some(t) => t,
            None => {
                if self.errors.len() == before {
                    self.required(field);
                }
                String::new()
            }
        }
    }

    pub fn required(&mut self, field: &str) {
        self.push(
            field,
            "required",
            format!("字段“{field}”为必填项"),
            format!("field '{field}' is required"),
        );
    }

    /// One of `allowed` (absent: `None`).
    pub fn one_of(&mut self, field: &str, v: Option<&str>, allowed: &[&str]) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?;
        if allowed.contains(&v) {
            return Some(v.to_string());
        }
        let shown: String = v.chars().take(32).collect();
        self.push(
            field,
            "value.not_allowed",
            format!(
                "字段“{field}”的取值“{}”不在允许范围内：{}",
                custos_core::text_guard::display_safe(&shown),
                allowed.join("、")
            ),
            format!(
                "field '{field}' value '{}' is not allowed; choose one of {}",
                custos_core::text_guard::display_safe(&shown),
                allowed.join(", ")
            ),
        );
        None
    }

    /// A date `YYYY-MM-DD` between the years 1900 and 2199.
    pub fn date(&mut self, field: &str, v: Option<&str>) -> Option<NaiveDate> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?;
        match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) if YEARS.contains(&chrono::Datelike::year(&d)) => Some(d),
            _ => {
                self.push(
                    field,
                    "date.invalid",
                    format!("字段“{field}”应为 1900–2199 年间的日期 YYYY-MM-DD"),
                    format!("field '{field}' must be a date YYYY-MM-DD in the years 1900–2199"),
                );
                None
            }
        }
    }

    /// A time (RFC 3339, or a date meaning its midnight in `tz`) as microseconds, not
    /// later than a day from `now_us`; absent: `now_us`.
    pub fn past_time(
        &mut self,
        field: &str,
        v: Option<&str>,
        tz: chrono_tz::Tz,
        now_us: i64,
    ) -> i64 {
        let Some(v) = v.map(str::trim).filter(|s| !s.is_empty()) else {
            return now_us;
        };
        let parsed = chrono::DateTime::parse_from_rfc3339(v)
            .ok()
            .filter(|t| YEARS.contains(&chrono::Datelike::year(t)))
            .map(|t| t.timestamp_micros())
            .or_else(|| {
                let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
                YEARS.contains(&chrono::Datelike::year(&d)).then_some(())?;
                let t = tz
                    .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                    .earliest()?;
                Some(t.timestamp_micros())
            });
        const DAY_US: i64 = 86_400_000_000;
        match parsed {
            Some(t) if t <= now_us + DAY_US => t,
            Some(_) => {
                self.push(
                    field,
                    "time.future",
                    format!("字段“{field}”不能晚于当前时间"),
                    format!("field '{field}' must not be in the future"),
                );
                now_us
            }
            None => {
                self.push(
                    field,
                    "time.invalid",
                    format!("字段“{field}”应为 RFC 3339 时间或日期 YYYY-MM-DD"),
                    format!("field '{field}' must be an RFC 3339 time or a date YYYY-MM-DD"),
                );
                now_us
            }
        }
    }

    /// An amount in yuan (a JSON number or a decimal text, at most two decimals) as
    /// fen, 0 to [`MAX_FEN`].
    pub fn amount(&mut self, field: &str, v: Option<&Value>) -> Option<i64> {
        let text = match v? {
            Value::Null => return None,
            Value::String(s) if s.trim().is_empty() => return None,
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        match fen_of(&text) {
            Some(f) if (0..=MAX_FEN).contains(&f) => Some(f),
            _ => {
                self.push(
                    field,
                    "amount.invalid",
                    format!("字段“{field}”应为 0 至 1000 亿之间、最多两位小数的金额"),
                    format!(
                        "field '{field}' must be an amount from 0 to 100,000,000,000 with at most two decimals"
                    ),
                );
                None
            }
        }
    }

    /// A whole number in `range`.
    pub fn int_in(
        &mut self,
        field: &str,
        v: Option<i64>,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let v = v?;
        if range.contains(&v) {
            return Some(v);
        }
        self.push(
            field,
            "value.out_of_range",
            format!("字段“{field}”应在 {}–{} 之间", range.start(), range.end()),
            format!(
                "field '{field}' must be between {} and {}",
                range.start(),
                range.end()
            ),
        );
        None
    }

    /// An ISO 4217 currency: three capital letters (absent: CNY).
    pub fn currency(&mut self, field: &str, v: Option<&str>) -> String {
        let v = v.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("CNY");
        if v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()) {
            return v.to_string();
        }
        self.push(
            field,
            "currency.invalid",
            format!("字段“{field}”应为 ISO 4217 三位大写字母币种代码，如 CNY"),
            format!("field '{field}' must be an ISO 4217 code of three capital letters, e.g. CNY"),
        );
        "CNY".into()
    }

    pub fn finish(self) -> crate::AppResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::AppError::Validation(self.errors))
        }
    }
}

/// `"1234.5"` → 123450 fen; `None` for anything that is not a plain non-negative decimal
/// with at most two decimals (no exponent, no sign).
pub(crate) fn fen_of(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 15 || frac.len() > 2 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yuan: i64 = whole.parse().ok()?;
    let mut cents: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    if frac.len() == 1 {
        cents *= 10;
    }
    yuan.checked_mul(100)?.checked_add(cents)
}

/// 123450 fen → `"1234.50"`.
pub(crate) fn yuan_text(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_fen() {
        assert_eq!(fen_of("1234.5"), Some(123_450));
        assert_eq!(fen_of("0.01"), Some(1));
        assert_eq!(fen_of("7"), Some(700));
        for bad in [
            "-1",
            "1e3",
            "1.234",
            "",
            ".5",
            "1,000",
            "NaN",
            "99999999999999999",
        ] {
            assert_eq!(fen_of(bad), None, "{bad}");
        }
        assert_eq!(yuan_text(123_450), "1234.50");
        assert_eq!(yuan_text(5), "0.05");
    }
}
