//! Organisation and access: departments, users, roles.
//!
//! One file per thing administered: `departments`, `users`, `roles` and the
//! `grants` of roles to users; this file keeps what several of them check.

use custos_core::text_guard::Lines;
use custos_core::{FieldError, Violation};

use crate::text_input::push_refused;

mod admin;
mod departments;
mod grants;
mod roles;
mod users;

pub use admin::{DepartmentNode, GrantOverview, GrantView, SessionView, MAX_GRANTS_LISTED};
pub(crate) use departments::check_department_exists;
pub use departments::{DepartmentPatch, DepartmentView, NewDepartment};
pub use grants::RoleAssignment;
pub(crate) use grants::{parse_time, resolve_roles};
pub use roles::{RoleInput, RolePatch, RoleView};
pub(crate) use users::{check_username, user_view};
pub use users::{NewUser, UserPatch, UserView};

/// Distinguish an absent field from an explicit `null`.
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

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

/// The use cases of the organisation: departments, users, roles and grants; `App::org` gives it out.
pub struct Org<'a> {
    pub(crate) app: &'a crate::App,
}
