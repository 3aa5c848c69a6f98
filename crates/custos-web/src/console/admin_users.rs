//! `/admin/users` (用户): the list with search, a new user with roles and data scopes,
//! and one user's page — disable / enable, reset the password, clear login throttling,
//! end sessions. Every action is the API's use case (`user.read`, `user.manage` within
//! the manager's department scope, audit).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::org::{NewUser, RoleAssignment, RoleView, SessionView, UserPatch, UserView};
use custos_app::AppError;
use custos_core::violation::Lang;

use super::admin_words::{scope_text, FormErrors, SubNav};
use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::AppState;
use custos_app::clock::local_minutes;

/// Users on one page of the list.
const PAGE_SIZE: i64 = 50;

/// A user as the pages show them.
pub(crate) struct UserLine {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub department: String,
    pub email: String,
    pub disabled: bool,
    pub locked_until: Option<String>,
    pub roles: Vec<String>,
    pub created: String,
}

fn user_line(
    u: &UserView,
    lang: Lang,
    tz: chrono_tz::Tz,
    departments: &[(i64, String)],
    roles: &[RoleView],
) -> UserLine {
    let role_name = |key: &str| {
        roles
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| key.to_string())
    };
    UserLine {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        department: u
            .department_id
            .and_then(|d| departments.iter().find(|(id, _)| *id == d))
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        disabled: u.disabled,
        locked_until: u.locked_until.as_deref().map(|l| local_minutes(l, tz)),
        roles: u
            .roles
            .iter()
            .map(|r| {
                let mut s = format!("{}（{}", role_name(&r.role), scope_text(lang, &r.scope));
                if let Some(e) = &r.expires_at {
                    s.push_str(&format!(
                        "，{} {}",
                        t(lang, "admin.expires"),
                        local_minutes(e, tz)
                    ));
                }
                s.push('）');
                s
            })
            .collect(),
        created: local_minutes(&u.created_at, tz),
    }
}

fn chrome(viewer: &Viewer, title: &str) -> Chrome {
    Chrome::new(viewer, "/admin/users", title)
}

/// Department names for pages (every signed-in user may read them).
pub(crate) async fn department_names(state: &AppState, viewer: &Viewer) -> Vec<(i64, String)> {
    state
        .app
        .org()
        .list_departments(&viewer.actor)
        .await
        .map(|ds| ds.into_iter().map(|d| (d.id, d.name)).collect())
        .unwrap_or_default()
}

pub(crate) async fn role_list(state: &AppState, viewer: &Viewer) -> Vec<RoleView> {
    state
        .app
        .org()
        .list_roles(&viewer.actor)
        .await
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "console/admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    subnav: SubNav,
    q: String,
    users: Vec<UserLine>,
    next_href: Option<String>,
    first_href: Option<String>,
    can_manage: bool,
}

/// `GET /admin/users?q=…&after=…`: users by id, found by username or name.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let text = q.get("q").unwrap_or("").to_string();
    let after = match q.get("after").map(str::parse::<i64>) {
        None => 0,
        Some(Ok(a)) if a >= 0 => a,
        Some(_) => {
            let e = AppError::Validation(vec![custos_core::Violation::new(
                "paging.cursor",
                "after 应为用户编号（非负整数）",
                "after must be a user id (a non-negative integer)",
            )
            .on("after")]);
            return PageError::new(chrome(&viewer, "admin.users"), e).into_response();
        }
    };
    let found = state
        .app
        .org()
        .find_users(&viewer.actor, &text, after, PAGE_SIZE)
        .await;
    let users = match found {
        Ok(u) => u,
        Err(e) => return PageError::new(chrome(&viewer, "admin.users"), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let departments = department_names(&state, &viewer).await;
    let roles = role_list(&state, &viewer).await;
    let q_part = match text.is_empty() {
        true => String::new(),
        false => format!("q={}&", encode_component(&text)),
    };
    let next_href = (users.len() as i64 == PAGE_SIZE)
        .then(|| {
            users
                .last()
                .map(|u| format!("/admin/users?{q_part}after={}", u.id))
        })
        .flatten();
    let first_href = (after > 0).then(|| format!("/admin/users?{}", q_part.trim_end_matches('&')));
    let page = UsersPage {
        chrome: chrome(&viewer, "admin.users"),
        subnav: SubNav::new(&viewer, "/admin/users"),
        users: users
            .iter()
            .map(|u| user_line(u, viewer.lang, tz, &departments, &roles))
            .collect(),
        q: text,
        next_href,
        first_href,
        can_manage: viewer.actor.can("user.manage"),
    };
    render(StatusCode::OK, &page)
}

/// What the new-user form shows again after a refusal.
#[derive(Default)]
struct NewUserValues {
    username: String,
    display_name: String,
    department_id: String,
    email: String,
    /// `(role key, scope)` ticked.
    roles: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/admin/user_new.html")]
struct NewUserPage {
    chrome: Chrome,
    subnav: SubNav,
    values: NewUserValues,
    errors: FormErrors,
    others: Vec<String>,
    departments: Vec<(i64, String)>,
    roles: Vec<RoleView>,
    scopes: Vec<(&'static str, String)>,
}

impl NewUserPage {
    fn role_scope(&self, key: &str) -> Option<&str> {
        self.values
            .roles
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, s)| s.as_str())
    }
}

pub(crate) fn scopes(lang: Lang) -> Vec<(&'static str, String)> {
    ["own", "department", "all"]
        .into_iter()
        .map(|s| (s, scope_text(lang, s)))
        .collect()
}

async fn new_user_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    values: NewUserValues,
    errors: FormErrors,
) -> Response {
    let others = errors.others(&[
        "username",
        "password",
        "display_name",
        "department_id",
        "email",
        "roles",
    ]);
    let page = NewUserPage {
        chrome: chrome(viewer, "admin.new_user"),
        subnav: SubNav::new(viewer, "/admin/users"),
        values,
        errors,
        others,
        departments: department_names(state, viewer).await,
        roles: role_list(state, viewer).await,
        scopes: scopes(viewer.lang),
    };
    render(status, &page)
}

/// `GET /admin/users/new`.
pub(crate) async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(e) = viewer.actor.require("user.manage") {
        // The form is only a way to call create_user, which decides again.
        return PageError::new(chrome(&viewer, "admin.new_user"), e).into_response();
    }
    new_user_page(
        &state,
        &viewer,
        StatusCode::OK,
        NewUserValues::default(),
        FormErrors::default(),
    )
    .await
}

/// The roles ticked on a form: `roles[i].role` with its `roles[i].scope`.
pub(crate) fn posted_roles(posted: &Posted) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in &posted.fields {
        let Some(i) = k
            .strip_prefix("roles[")
            .and_then(|r| r.strip_suffix("].role"))
        else {
            continue;
        };
        let scope = posted
            .get(&format!("roles[{i}].scope"))
            .unwrap_or("own")
            .to_string();
        out.push((v.clone(), scope));
    }
    out
}

/// `POST /admin/users/new`: the API's create_user; errors beside their fields.
pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer, "admin.new_user"));
    }
    let field = |k: &str| posted.get(k).unwrap_or("").to_string();
    let values = NewUserValues {
        username: field("username"),
        display_name: field("display_name"),
        department_id: field("department_id"),
        email: field("email"),
        roles: posted_roles(&posted),
    };
    let department_id = match values.department_id.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(d) => Some(d),
            Err(_) => {
                let errors = FormErrors::from_fields(
                    &[custos_core::Violation::new(
                        "department.unknown",
                        format!("部门 {d} 不存在"),
                        format!("department {d} does not exist"),
                    )
                    .on("department_id")],
                    viewer.lang,
                );
                return new_user_page(
                    &state,
                    &viewer,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    values,
                    errors,
                )
                .await;
            }
        },
    };
    let input = NewUser {
        username: values.username.trim().to_string(),
        password: field("password"),
        display_name: Some(values.display_name.trim().to_string()).filter(|n| !n.is_empty()),
        department_id,
        email: Some(values.email.trim().to_string()).filter(|e| !e.is_empty()),
        roles: values
            .roles
            .iter()
            .map(|(role, scope)| RoleAssignment {
                role: role.clone(),
                scope: scope.clone(),
                expires_at: None,
            })
            .collect(),
    };
    match state.app.org().create_user(&viewer.actor, input).await {
        Ok(u) => Redirect::to(&format!("/admin/users/{}?saved=1", u.id)).into_response(),
        Err(AppError::Validation(f)) => {
            let errors = FormErrors::from_fields(&f, viewer.lang);
            new_user_page(
                &state,
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                values,
                errors,
            )
            .await
        }
        Err(e @ AppError::Conflict(_)) => {
            let errors = FormErrors::general(e.detail(viewer.lang));
            new_user_page(&state, &viewer, StatusCode::CONFLICT, values, errors).await
        }
        Err(e) => PageError::new(chrome(&viewer, "admin.new_user"), e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "console/admin/user.html")]
struct UserPage {
    chrome: Chrome,
    subnav: SubNav,
    user: UserLine,
    permissions: Vec<String>,
    sessions: Vec<SessionLine>,
    can_manage: bool,
    notice: Option<String>,
    errors: FormErrors,
}

pub(crate) struct SessionLine {
    pub id: String,
    pub kind: String,
    pub created: String,
    pub last_seen: String,
    pub expires: String,
}

fn session_line(s: &SessionView, lang: Lang, tz: chrono_tz::Tz) -> SessionLine {
    let key = format!("admin.session_kind.{}", s.kind);
    SessionLine {
        id: s.id.clone(),
        kind: match t(lang, &key) {
            k if k == key => s.kind.clone(),
            w => w.to_string(),
        },
        created: local_minutes(&s.created_at, tz),
        last_seen: s
            .last_seen_at
            .as_deref()
            .map(|l| local_minutes(l, tz))
            .unwrap_or_default(),
        expires: local_minutes(&s.expires_at, tz),
    }
}

fn user_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "user")
}

async fn user_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    notice: Option<String>,
    errors: FormErrors,
) -> Response {
    let title = "admin.users";
    let user = match user_id(id) {
        Ok(id) => state.app.org().get_user(&viewer.actor, id).await,
        Err(e) => Err(e),
    };
    let user = match user {
        Ok(u) => u,
        Err(e) => return PageError::new(chrome(viewer, title), e).into_response(),
    };
    let can_manage = viewer.actor.can("user.manage");
    // Sessions are the manager's to see; a reader without user.manage sees none.
    let sessions = match can_manage {
        true => match state.app.org().user_sessions(&viewer.actor, user.id).await {
            Ok(s) => Some(s),
            Err(AppError::NotFound { .. } | AppError::Forbidden { .. }) => None,
            Err(e) => return PageError::new(chrome(viewer, title), e).into_response(),
        },
        false => None,
    };
    let tz = state.app.config.code_timezone;
    let departments = department_names(state, viewer).await;
    let roles = role_list(state, viewer).await;
    let page = UserPage {
        chrome: chrome(viewer, title),
        subnav: SubNav::new(viewer, "/admin/users"),
        user: user_line(&user, viewer.lang, tz, &departments, &roles),
        permissions: user.permissions.clone(),
        can_manage: can_manage && sessions.is_some(),
        sessions: sessions
            .unwrap_or_default()
            .iter()
            .map(|s| session_line(s, viewer.lang, tz))
            .collect(),
        notice,
        errors,
    };
    render(status, &page)
}

/// `GET /admin/users/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let notice = q
        .get("saved")
        .map(|_| t(viewer.lang, "admin.saved").to_string());
    user_page(
        &state,
        &viewer,
        &id,
        StatusCode::OK,
        notice,
        FormErrors::default(),
    )
    .await
}

/// The answer to an action on a user's page: back to the page, or the page again with
/// the use case's errors beside the fields.
async fn after_action(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    result: Result<(), AppError>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/admin/users/{id}?saved=1")).into_response(),
        Err(AppError::Validation(f)) => {
            let errors = FormErrors::from_fields(&f, viewer.lang);
            user_page(
                state,
                viewer,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
            )
            .await
        }
        Err(e @ (AppError::Conflict(_) | AppError::Rejected(_))) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT);
            let errors = FormErrors::general(e.detail(viewer.lang));
            user_page(state, viewer, id, status, None, errors).await
        }
        Err(e) => PageError::new(chrome(viewer, "admin.users"), e).into_response(),
    }
}

/// `POST /admin/users/{id}/{action}`: `disable`, `enable`, `password`, `unlock`,
/// `end-session`.
pub(crate) async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer, "admin.users"));
    }
    let uid = match user_id(&id) {
        Ok(u) => u,
        Err(e) => return PageError::new(chrome(&viewer, "admin.users"), e).into_response(),
    };
    let org = state.app.org();
    let patch = |p: UserPatch| org.update_user(&viewer.actor, uid, p);
    let result = match action.as_str() {
        "disable" | "enable" => patch(UserPatch {
            disabled: Some(action == "disable"),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        "password" => patch(UserPatch {
            password: Some(posted.get("password").unwrap_or("").to_string()),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        "unlock" => org.unlock_user(&viewer.actor, uid).await.map(|_| ()),
        "end-session" => {
            let session = posted.get("session").unwrap_or("");
            org.end_user_session(&viewer.actor, uid, session).await
        }
        other => Err(AppError::not_found("page", other)),
    };
    after_action(&state, &viewer, &id, result).await
}
