//! The administration pages and who may open each: the sub-navigation of 管理 and where
//! its entry in the main navigation leads.

use custos_app::{Actor, Scope};

pub(crate) const SUBNAV: &[(&str, &str, &str)] = &[
    ("/admin/users", "admin.users", "user.read"),
    (
        "/admin/departments",
        "admin.departments",
        "department.manage",
    ),
    ("/admin/roles", "admin.roles", "role.manage"),
    ("/admin/service-accounts", "sa.subnav", "user.manage"),
    ("/admin/webhooks", "wh.subnav", "webhooks.manage"),
    ("/admin/channels", "ch.subnav", "notifications.manage"),
    ("/admin/system", "admin.system", "system.backup"),
];

/// Whether `actor` may open the administration page at `href`.
pub(crate) fn may_open(actor: &Actor, href: &str, permission: &str) -> bool {
    match href {
        // These need their permission over everyone.
        "/admin/service-accounts" | "/admin/webhooks" | "/admin/channels" => {
            holds_over_all(actor, permission)
        }
        _ => actor.can(permission),
    }
}

/// The first administration page `actor` may open: where the navigation's 管理 leads.
pub(crate) fn first_admin_page(actor: &Actor) -> Option<&'static str> {
    SUBNAV
        .iter()
        .find(|(href, _, p)| may_open(actor, href, p))
        .map(|(href, _, _)| *href)
}

/// Whether `actor` holds `permission` over everyone (the pages of service accounts,
/// webhooks and channels: the use cases decide, the navigation hides what they refuse).
pub(crate) fn holds_over_all(actor: &Actor, permission: &str) -> bool {
    matches!(actor.require(permission), Ok(Scope::All))
}
