//! Page size and cursor of the lists, read the same way by every list that uses them: a
//! value that is not an integer in range, or not a cursor the list could have returned,
//! is a 422 naming the parameter — never clamped, never ignored.

use custos_core::Violation;

use crate::error::{AppError, AppResult};

/// A query parameter whose value is refused: 422 naming the parameter and the rule.
pub(crate) fn invalid(field: &str, value: &str, zh: &str, en: &str) -> AppError {
    AppError::validation(
        field,
        Violation::new(
            "query.invalid",
            format!("查询参数 {field}=“{value}”无效：{zh}"),
            format!("query parameter {field}='{value}' is invalid: {en}"),
        ),
    )
}

/// The page size given as `raw` (absent: `default`), an integer 1–`max`.
pub fn page_limit(raw: Option<&str>, default: i64, max: i64) -> AppResult<i64> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            "limit",
            raw,
            &format!("应为 1–{max} 的整数"),
            &format!("must be an integer 1–{max}"),
        )),
    }
}

/// A cursor that is the id or sequence number of the last item of a page: a positive
/// integer. Absent or empty: the first page.
pub fn page_cursor(field: &str, raw: Option<&str>) -> AppResult<Option<i64>> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => match c.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(invalid(
                field,
                c,
                "不是本列表返回的游标",
                "not a cursor of this list",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limits_and_cursors_out_of_range_are_refused() {
        assert_eq!(page_limit(None, 100, 1000).unwrap(), 100);
        assert_eq!(page_limit(Some("1000"), 100, 1000).unwrap(), 1000);
        for bad in ["-5", "0", "1001", "abc", "", "1.5"] {
            let e = page_limit(Some(bad), 100, 1000).err().unwrap();
            assert_eq!(e.status(), 422, "{bad}");
        }
        assert_eq!(page_cursor("cursor", None).unwrap(), None);
        assert_eq!(page_cursor("cursor", Some("")).unwrap(), None);
        assert_eq!(page_cursor("cursor", Some("42")).unwrap(), Some(42));
        for bad in ["-5", "0", "abc", "9".repeat(30).as_str()] {
            match page_cursor("before", Some(bad)).err().unwrap() {
                AppError::Validation(f) => assert_eq!(f[0].field, "before"),
                other => panic!("{other:?}"),
            }
        }
    }
}
