//! The checks of names that several administered things share: display names of
//! departments, roles, users, channels and service accounts, and the form of a username.

use custos_core::text_guard::Lines;
use custos_core::{FieldError, Violation};

use crate::text_input::push_refused;

pub(crate) fn check_name(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    if push_refused(field, value, Lines::Single, errors) {
        return;
    }
    let n = value.trim().chars().count();
    if n == 0 {
        errors.push(
            Violation::new(
                "required",
                format!("{field} 不能为空"),
                format!("{field} is required"),
            )
            .on(field),
        );
    } else if n > max {
        errors.push(
            Violation::new(
                "length.max",
                format!("{field} 不能超过 {max} 个字符（当前 {n} 个）"),
                format!("{field} must not exceed {max} characters (has {n})"),
            )
            .on(field),
        );
    }
}

pub(crate) fn check_username(u: &str) -> Result<(), Violation> {
    let ok_len = (3..=32).contains(&u.len());
    let ok_chars = u
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(Violation::new(
            "username.format",
            format!("用户名“{u}”不合规：需 3–32 位字母、数字或 _ . -"),
            format!("username '{u}' is invalid: use 3–32 letters, digits, _ . or -"),
        ))
    }
}
