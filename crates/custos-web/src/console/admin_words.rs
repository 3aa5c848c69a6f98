//! Words and small pieces the administration pages share (用户, 部门, 角色, 审计, 系统):
//! their sub-navigation, field errors beside inputs, data scopes and sizes as people
//! read them.

use custos_core::violation::Lang;
use custos_core::FieldError;

pub(crate) use super::admin_nav::holds_over_all;
use super::admin_nav::{may_open, SUBNAV};
use super::i18n::t;
use super::session::Viewer;

/// The sub-navigation of the administration pages, each entry shown only to viewers
/// with its permission.
pub(crate) struct SubNav {
    pub items: Vec<(&'static str, &'static str, bool)>,
}

/// The 403 page for a form posted by someone without `permission` over everyone, which
/// the use cases would refuse anyway: checked before the form is parsed, so they get 403
/// whatever they send.
pub(crate) fn refuse_unless_over_all(
    viewer: &Viewer,
    permission: &str,
    chrome: impl FnOnce() -> super::page::Chrome,
) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    (!holds_over_all(&viewer.actor, permission)).then(|| {
        let e = custos_app::AppError::Forbidden {
            permission: permission.into(),
        };
        super::page::PageError::new(chrome(), e).into_response()
    })
}

/// A record id from the path: a positive number, anything else the missing record's
/// `what` (a 404 page, as for an id that does not exist).
pub(crate) fn path_id(raw: &str, what: &'static str) -> Result<i64, custos_app::AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| custos_app::AppError::not_found(what, raw))
}

/// The word for `value` under the i18n key `prefix.value`, or the value itself when
/// there is none.
pub(crate) fn word(lang: Lang, prefix: &str, value: &str) -> String {
    let key = format!("{prefix}.{value}");
    match t(lang, &key) {
        k if k == key => value.to_string(),
        w => w.to_string(),
    }
}

impl SubNav {
    pub fn new(viewer: &Viewer, current: &str) -> SubNav {
        SubNav {
            items: SUBNAV
                .iter()
                .filter(|(href, _, p)| may_open(&viewer.actor, href, p))
                .map(|(href, key, _)| (*href, *key, *href == current))
                .collect(),
        }
    }
}

/// Errors of a form: each beside its field, the rest above the form.
#[derive(Default)]
pub(crate) struct FormErrors {
    pub fields: Vec<(String, String)>,
    pub general: Vec<String>,
}

impl FormErrors {
    pub fn from_fields(errors: &[FieldError], lang: Lang) -> FormErrors {
        FormErrors {
            fields: errors
                .iter()
                .map(|e| (e.field.clone(), e.violation.message(lang).to_string()))
                .collect(),
            general: Vec::new(),
        }
    }

    pub fn general(message: String) -> FormErrors {
        FormErrors {
            fields: Vec::new(),
            general: vec![message],
        }
    }

    /// The message for an input named `field` (or one of its parts, `roles[0].scope`).
    pub fn on(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field || f.starts_with(&format!("{field}[")))
            .map(|(_, m)| m.as_str())
    }

    /// Messages of fields the form has no input for, and the general ones.
    pub fn others(&self, inputs: &[&str]) -> Vec<String> {
        let mut out = self.general.clone();
        for (f, m) in &self.fields {
            let shown = inputs
                .iter()
                .any(|i| f == i || f.starts_with(&format!("{i}[")));
            if !shown {
                out.push(m.clone());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }
}

/// A data scope in words.
pub(crate) fn scope_text(lang: Lang, scope: &str) -> String {
    let key = format!("admin.scope.{scope}");
    match t(lang, &key) {
        k if k == key => scope.to_string(),
        words => words.to_string(),
    }
}

/// A size in bytes as people read it (KiB, MiB, GiB).
pub(crate) fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n.max(0) as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}

/// A day (`YYYY-MM-DD`, a form's date input) as the RFC 3339 start of that day in the
/// business time zone, `next` the start of the day after; any other text is passed on
/// for the use case to judge.
pub(crate) fn day_start(value: &str, tz: chrono_tz::Tz, next: bool) -> String {
    use chrono::TimeZone;
    let Ok(day) = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") else {
        return value.to_string();
    };
    let day = if next {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    match day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
    {
        Some(t) => t.to_rfc3339(),
        None => value.to_string(),
    }
}

/// A local date and time (`YYYY-MM-DDTHH:MM`, a datetime input) as RFC 3339 in the
/// business time zone; any other text is passed on for the use case to judge.
pub(crate) fn local_datetime(value: &str, tz: chrono_tz::Tz) -> String {
    use chrono::TimeZone;
    let v = value.trim();
    let parsed = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"));
    match parsed
        .ok()
        .and_then(|t| tz.from_local_datetime(&t).earliest())
    {
        Some(t) => t.to_rfc3339(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn days_are_business_days() {
        let tz = chrono_tz::Asia::Shanghai;
        assert_eq!(
            day_start("2026-03-01", tz, false),
            "2026-03-01T00:00:00+08:00"
        );
        assert_eq!(
            day_start("2026-03-31", tz, true),
            "2026-04-01T00:00:00+08:00"
        );
        assert_eq!(day_start("soon", tz, false), "soon");
        assert_eq!(
            local_datetime("2026-05-01T18:30", tz),
            "2026-05-01T18:30:00+08:00"
        );
    }
}
