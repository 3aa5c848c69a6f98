//! `/admin/departments` (部门): the tree, create, rename, move (the use case refuses a
//! cycle); `/admin/roles` (角色与授权): roles against permissions as a checkbox matrix,
//! custom roles edited, every grant with its scope and expiry (those made by approved
//! permission applications named as such), and granting a role with an expiry.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::org::{
    DepartmentNode, DepartmentPatch, GrantOverview, NewDepartment, RoleAssignment, RoleInput,
    RolePatch,
};
use custos_app::AppError;
use custos_core::violation::Lang;

use super::admin_words::{local_datetime, scope_text, FormErrors, SubNav};
use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;
use custos_app::clock::local_minutes;

/// Deepest indentation a tree row is drawn with (deeper ones line up with it).
const MAX_INDENT: usize = 6;

fn chrome(viewer: &Viewer, title: &str) -> Chrome {
    Chrome::new(viewer, "/admin/users", title)
}

/// The answer to a refused form on an admin page: its errors for the page, or the
/// error page for anything else.
fn form_errors(e: AppError, lang: Lang) -> Result<(StatusCode, FormErrors), AppError> {
    match e {
        AppError::Validation(f) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_fields(&f, lang),
        )),
        e @ (AppError::Conflict(_) | AppError::Rejected(_)) => Ok((
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT),
            FormErrors::general(e.detail(lang)),
        )),
        e => Err(e),
    }
}

fn optional_id(field: &str, raw: &str) -> Result<Option<i64>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        v => v.parse::<i64>().map(Some).map_err(|_| {
            AppError::Validation(vec![custos_core::Violation::new(
                "integer.format",
                format!("“{v}”不是编号（整数）"),
                format!("'{v}' is not an id (an integer)"),
            )
            .on(field)])
        }),
    }
}

// ---- departments ----

pub(crate) struct DepartmentLine {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub manager: String,
    pub manager_id: Option<i64>,
    pub indent: usize,
}

impl DepartmentLine {
    fn is_under(&self, id: &i64) -> bool {
        self.parent_id == Some(*id)
    }
}

impl DepartmentsPage {
    fn is_failed(&self, id: &i64) -> bool {
        self.failed == Some(*id)
    }
}

#[derive(Template)]
#[template(path = "console/admin/departments.html")]
struct DepartmentsPage {
    chrome: Chrome,
    subnav: SubNav,
    departments: Vec<DepartmentLine>,
    errors: FormErrors,
    /// The department a refused rename or move was for.
    failed: Option<i64>,
    new_name: String,
}

fn department_lines(tree: Vec<DepartmentNode>) -> Vec<DepartmentLine> {
    tree.into_iter()
        .map(|n| DepartmentLine {
            id: n.department.id,
            name: n.department.name,
            parent_id: n.department.parent_id,
            manager: n.manager_name.unwrap_or_default(),
            manager_id: n.department.manager_id,
            indent: n.depth.min(MAX_INDENT),
        })
        .collect()
}

async fn departments_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    errors: FormErrors,
    failed: Option<i64>,
    new_name: String,
) -> Response {
    match state.app.org().department_tree(&viewer.actor).await {
        Ok(tree) => render(
            status,
            &DepartmentsPage {
                chrome: chrome(viewer, "admin.departments"),
                subnav: SubNav::new(viewer, "/admin/departments"),
                departments: department_lines(tree),
                errors,
                failed,
                new_name,
            },
        ),
        Err(e) => PageError::new(chrome(viewer, "admin.departments"), e).into_response(),
    }
}

/// `GET /admin/departments`.
pub(crate) async fn departments(State(state): State<AppState>, viewer: Viewer) -> Response {
    departments_page(
        &state,
        &viewer,
        StatusCode::OK,
        FormErrors::default(),
        None,
        String::new(),
    )
    .await
}

/// `POST /admin/departments/new`: `name`, `parent_id`.
pub(crate) async fn create_department(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer, "admin.departments"));
    }
    let name = posted.get("name").unwrap_or("").to_string();
    let result = match optional_id("parent_id", posted.get("parent_id").unwrap_or("")) {
        Ok(parent_id) => {
            let input = NewDepartment {
                name: name.clone(),
                parent_id,
                manager_id: None,
            };
            state
                .app
                .org()
                .create_department(&viewer.actor, input)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    department_answer(&state, &viewer, result, None, name).await
}

/// `POST /admin/departments/{id}`: `name` renames, `parent_id` moves (empty: to the top),
/// `manager_id` sets the manager (a user id; empty: none).
pub(crate) async fn update_department(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer, "admin.departments"));
    }
    let Ok(id) = id.parse::<i64>() else {
        let e = AppError::not_found("department", id);
        return PageError::new(chrome(&viewer, "admin.departments"), e).into_response();
    };
    let mut patch = DepartmentPatch {
        name: posted.get("name").map(str::to_string),
        ..Default::default()
    };
    let parent = posted.get("parent_id").map(|p| optional_id("parent_id", p));
    let manager = posted
        .get("manager_id")
        .map(|m| optional_id("manager_id", m));
    let result = match (parent, manager) {
        (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e),
        (parent, manager) => {
            patch.parent_id = parent.and_then(Result::ok).map(|p| p.filter(|p| *p > 0));
            patch.manager_id = manager.and_then(Result::ok);
            state
                .app
                .org()
                .update_department(&viewer.actor, id, patch)
                .await
                .map(|_| ())
        }
    };
    department_answer(&state, &viewer, result, Some(id), String::new()).await
}

async fn department_answer(
    state: &AppState,
    viewer: &Viewer,
    result: Result<(), AppError>,
    failed: Option<i64>,
    new_name: String,
) -> Response {
    match result.map_err(|e| form_errors(e, viewer.lang)) {
        Ok(()) => Redirect::to("/admin/departments").into_response(),
        Err(Ok((status, errors))) => {
            departments_page(state, viewer, status, errors, failed, new_name).await
        }
        Err(Err(e)) => PageError::new(chrome(viewer, "admin.departments"), e).into_response(),
    }
}

// ---- roles and grants ----

pub(crate) struct RoleColumn {
    pub key: String,
    pub name: String,
    pub builtin: bool,
}

pub(crate) struct PermissionRow {
    pub key: String,
    pub label: String,
    /// Per role column: whether the role holds the permission.
    pub held: Vec<bool>,
}

pub(crate) struct GrantLine {
    pub user_id: i64,
    pub user: String,
    /// The role's key (what a revocation names) and its name.
    pub role_key: String,
    pub role: String,
    pub scope: String,
    pub expires: Option<String>,
    pub expired: bool,
    pub application_id: Option<i64>,
}

#[derive(Default)]
struct GrantValues {
    user_id: String,
    role: String,
    scope: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "console/admin/roles.html")]
struct RolesPage {
    chrome: Chrome,
    subnav: SubNav,
    roles: Vec<RoleColumn>,
    permissions: Vec<PermissionRow>,
    grants: Vec<GrantLine>,
    truncated: bool,
    scopes: Vec<(&'static str, String)>,
    values: GrantValues,
    errors: FormErrors,
    others: Vec<String>,
    notice: Option<String>,
}

fn roles_view(
    o: GrantOverview,
    lang: Lang,
    tz: chrono_tz::Tz,
) -> (Vec<RoleColumn>, Vec<PermissionRow>, Vec<GrantLine>) {
    let columns: Vec<RoleColumn> = o
        .roles
        .iter()
        .map(|r| RoleColumn {
            key: r.key.clone(),
            name: r.name.clone(),
            builtin: r.builtin,
        })
        .collect();
    let rows = o
        .permissions
        .iter()
        .map(|(key, label)| PermissionRow {
            label: match lang {
                Lang::Zh => label.clone(),
                Lang::En => key.clone(),
            },
            held: o
                .roles
                .iter()
                .map(|r| r.permissions.contains(key))
                .collect(),
            key: key.clone(),
        })
        .collect();
    let role_name = |key: &str| {
        o.roles
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| key.to_string())
    };
    let grants = o
        .grants
        .iter()
        .map(|g| GrantLine {
            user_id: g.user_id,
            user: format!("{}（{}）", g.display_name, g.username),
            role_key: g.role.clone(),
            role: role_name(&g.role),
            scope: scope_text(lang, &g.scope),
            expires: g.expires_at.as_deref().map(|e| local_minutes(e, tz)),
            expired: g.expired,
            application_id: g.application_id,
        })
        .collect();
    (columns, rows, grants)
}

async fn roles_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    values: GrantValues,
    errors: FormErrors,
    notice: Option<String>,
) -> Response {
    let overview = match state.app.org().grant_overview(&viewer.actor).await {
        Ok(o) => o,
        Err(e) => return PageError::new(chrome(viewer, "admin.roles"), e).into_response(),
    };
    let truncated = overview.truncated;
    let (roles, permissions, grants) =
        roles_view(overview, viewer.lang, state.app.config.code_timezone);
    let others = errors.others(&["user_id", "role", "scope", "expires_at", "roles"]);
    let page = RolesPage {
        chrome: chrome(viewer, "admin.roles"),
        subnav: SubNav::new(viewer, "/admin/roles"),
        roles,
        permissions,
        grants,
        truncated,
        scopes: ["own", "department", "all"]
            .into_iter()
            .map(|s| (s, scope_text(viewer.lang, s)))
            .collect(),
        values,
        errors,
        others,
        notice,
    };
    render(status, &page)
}

/// `GET /admin/roles`.
pub(crate) async fn roles(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let notice = raw
        .as_deref()
        .filter(|q| q.contains("saved=1"))
        .map(|_| t(viewer.lang, "admin.saved").to_string());
    roles_page(
        &state,
        &viewer,
        StatusCode::OK,
        GrantValues::default(),
        FormErrors::default(),
        notice,
    )
    .await
}

async fn roles_answer(
    state: &AppState,
    viewer: &Viewer,
    result: Result<(), AppError>,
    values: GrantValues,
) -> Response {
    match result.map_err(|e| form_errors(e, viewer.lang)) {
        Ok(()) => Redirect::to("/admin/roles?saved=1").into_response(),
        Err(Ok((status, errors))) => roles_page(state, viewer, status, values, errors, None).await,
        Err(Err(e)) => PageError::new(chrome(viewer, "admin.roles"), e).into_response(),
    }
}

/// `POST /admin/roles/grant`: `user_id`, `role`, `scope`, `expires_at` (a local date
/// and time, or RFC 3339; empty: permanent) — the grant_role use case.
pub(crate) async fn grant(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer, "admin.roles"));
    }
    let field = |k: &str| posted.get(k).unwrap_or("").trim().to_string();
    let values = GrantValues {
        user_id: field("user_id"),
        role: field("role"),
        scope: field("scope"),
        expires_at: field("expires_at"),
    };
    let tz = state.app.config.code_timezone;
    let result = match optional_id("user_id", &values.user_id) {
        Ok(Some(user_id)) => {
            let assignment = RoleAssignment {
                role: values.role.clone(),
                scope: match values.scope.as_str() {
                    "" => "own".into(),
                    s => s.to_string(),
                },
                expires_at: Some(values.expires_at.as_str())
                    .filter(|e| !e.is_empty())
                    .map(|e| local_datetime(e, tz)),
            };
            state
                .app
                .org()
                .grant_role(&viewer.actor, user_id, assignment)
                .await
                .map(|_| ())
        }
        Ok(None) => Err(AppError::not_found("user", "")),
        Err(e) => Err(e),
    };
    // An unknown or unseen user is named beside the field, not as a page of its own.
    let result = result.map_err(|e| match e {
        AppError::NotFound { what: "user", key } => {
            AppError::Validation(vec![custos_core::Violation::new(
                "user.unknown",
                format!("用户 {key} 不存在或不在您的管理范围内"),
                format!("user {key} does not exist or is outside your scope"),
            )
            .on("user_id")])
        }
        e => e,
    });
    roles_answer(&state, &viewer, result, values).await
}

/// `POST /admin/roles/revoke`: `user_id`, `role` — the revoke_role use case.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer, "admin.roles"));
    }
    let role = posted.get("role").unwrap_or("").trim().to_string();
    let result = match optional_id("user_id", posted.get("user_id").unwrap_or("")) {
        Ok(Some(user_id)) => state
            .app
            .org()
            .revoke_role(&viewer.actor, user_id, &role)
            .await
            .map(|_| ()),
        Ok(None) => Err(AppError::not_found("user", "")),
        Err(e) => Err(e),
    };
    roles_answer(&state, &viewer, result, GrantValues::default()).await
}

/// `POST /admin/roles/{key}`: the permissions ticked for a custom role (`permissions`,
/// repeated); `POST /admin/roles/new` creates one (`key`, `name`).
pub(crate) async fn save_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer, "admin.roles"));
    }
    let result = if key == "new" {
        let input = RoleInput {
            key: posted.get("key").unwrap_or("").trim().to_string(),
            name: posted.get("name").unwrap_or("").to_string(),
            permissions: Vec::new(),
        };
        state
            .app
            .org()
            .create_role(&viewer.actor, input)
            .await
            .map(|_| ())
    } else {
        let permissions = posted
            .fields
            .iter()
            .filter(|(k, _)| k == "permissions")
            .map(|(_, v)| v.clone())
            .collect();
        let patch = RolePatch {
            name: None,
            permissions: Some(permissions),
        };
        state
            .app
            .org()
            .update_role(&viewer.actor, &key, patch)
            .await
            .map(|_| ())
    };
    roles_answer(&state, &viewer, result, GrantValues::default()).await
}
