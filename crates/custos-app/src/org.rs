//! Organisation and access: departments, users, roles.
//!
//! One file per thing administered: `departments`, `users`, `roles` and the
//! `grants` of roles to users; `names` keeps the name checks several of them share and
//! `double_option` how a patch tells an absent field from `null`.

mod admin;
mod departments;
pub(crate) mod double_option;
mod grants;
mod names;
mod roles;
mod service;
mod user_view;
mod users;
pub use service::Org;

pub use admin::{DepartmentNode, GrantOverview, GrantView, SessionView, MAX_GRANTS_LISTED};
pub(crate) use departments::check_department_exists;
pub use departments::{DepartmentPatch, DepartmentView, NewDepartment};
pub use grants::RoleAssignment;
pub(crate) use grants::{parse_time, resolve_roles};
pub(crate) use names::{check_name, check_username};
pub use roles::{RoleInput, RolePatch, RoleView};
pub(crate) use user_view::user_view;
pub use user_view::UserView;
pub use users::{NewUser, UserPatch};
