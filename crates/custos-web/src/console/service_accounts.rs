//! `/admin/service-accounts` (服务账号与 API 密钥): the accounts other systems call the
//! API with — list, create (roles and data scopes as for users), disable / enable — and
//! each account's keys: list (prefix, expiry, last use), create (the token shown once, on
//! the answer to the form, never again) and revoke. Every action is the API's use case
//! (`user.manage` over all users, audit).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::apikeys::{ApiKeyView, NewApiKey, NewServiceAccount, ServiceAccountView};
use custos_app::org::{RoleAssignment, RoleView};
use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::{FieldError, Violation};

use super::admin_users::{department_names, posted_roles, role_list, scopes};
use super::admin_words::{local_datetime, scope_text, word, FormErrors, SubNav};
use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;
use custos_app::clock::local_minutes;

const LIST_LIMIT: i64 = 500;

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/admin/users", "sa.title")
}

/// An account as the pages show it.
pub(crate) struct AccountLine {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub department: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub active_keys: i64,
    pub created: String,
}

fn account_line(
    a: &ServiceAccountView,
    lang: Lang,
    tz: chrono_tz::Tz,
    departments: &[(i64, String)],
    roles: &[RoleView],
) -> AccountLine {
    let role_name = |key: &str| {
        roles
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| key.to_string())
    };
    AccountLine {
        id: a.id,
        name: a.name.clone(),
        display_name: a.display_name.clone(),
        department: a
            .department_id
            .and_then(|d| departments.iter().find(|(id, _)| *id == d))
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        roles: a
            .roles
            .iter()
            .map(|r| format!("{}（{}）", role_name(&r.role), scope_text(lang, &r.scope)))
            .collect(),
        disabled: a.disabled,
        active_keys: a.active_keys,
        created: local_minutes(&a.created_at, tz),
    }
}

/// What the new-account form shows again after a refusal.
#[derive(Default)]
struct NewValues {
    name: String,
    display_name: String,
    department_id: String,
    roles: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/admin/service_accounts.html")]
struct ListPage {
    chrome: Chrome,
    subnav: SubNav,
    accounts: Vec<AccountLine>,
    values: NewValues,
    errors: FormErrors,
    others: Vec<String>,
    departments: Vec<(i64, String)>,
    roles: Vec<RoleView>,
    scopes: Vec<(&'static str, String)>,
}

impl ListPage {
    fn role_scope(&self, key: &str) -> Option<&str> {
        self.values
            .roles
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, s)| s.as_str())
    }
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    values: NewValues,
    errors: FormErrors,
) -> Response {
    let accounts = match state
        .app
        .api_keys()
        .list_service_accounts(&viewer.actor, 0, LIST_LIMIT)
        .await
    {
        Ok(a) => a,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let departments = department_names(state, viewer).await;
    let roles = role_list(state, viewer).await;
    let tz = state.app.config.code_timezone;
    let page = ListPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/service-accounts"),
        accounts: accounts
            .iter()
            .map(|a| account_line(a, viewer.lang, tz, &departments, &roles))
            .collect(),
        others: errors.others(&["name", "display_name", "department_id", "roles"]),
        values,
        errors,
        departments,
        roles,
        scopes: scopes(viewer.lang),
    };
    render(status, &page)
}

/// `GET /admin/service-accounts`: the accounts and the form for a new one.
pub(crate) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    list_page(
        &state,
        &viewer,
        StatusCode::OK,
        NewValues::default(),
        FormErrors::default(),
    )
    .await
}

/// A form's whole-number field: absent when empty, a field error when not a number.
fn whole_number<T: std::str::FromStr>(
    posted: &Posted,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let text = posted.get(field).unwrap_or("").trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<T>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(
                Violation::new(
                    "number.integer",
                    format!("{field} {}", t(Lang::Zh, "sa.not_number")),
                    format!("{field} {}", t(Lang::En, "sa.not_number")),
                )
                .on(field),
            );
            None
        }
    }
}

/// `POST /admin/service-accounts`: the API's create_service_account.
pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let field = |k: &str| posted.get(k).unwrap_or("").to_string();
    let values = NewValues {
        name: field("name"),
        display_name: field("display_name"),
        department_id: field("department_id"),
        roles: posted_roles(&posted),
    };
    let mut errors = Vec::new();
    let department_id = whole_number::<i64>(&posted, "department_id", &mut errors);
    if !errors.is_empty() {
        let errors = FormErrors::from_fields(&errors, viewer.lang);
        return list_page(
            &state,
            &viewer,
            StatusCode::UNPROCESSABLE_ENTITY,
            values,
            errors,
        )
        .await;
    }
    let input = NewServiceAccount {
        name: values.name.trim().to_string(),
        display_name: Some(values.display_name.trim().to_string()).filter(|n| !n.is_empty()),
        department_id,
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
    match state
        .app
        .api_keys()
        .create_service_account(&viewer.actor, input)
        .await
    {
        Ok(a) => Redirect::to(&format!("/admin/service-accounts/{}?saved=1", a.id)).into_response(),
        Err(AppError::Validation(f)) => {
            let errors = FormErrors::from_fields(&f, viewer.lang);
            list_page(
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
            list_page(&state, &viewer, StatusCode::CONFLICT, values, errors).await
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// A key as the account's page lists it.
pub(crate) struct KeyLine {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub status: String,
    pub status_text: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub last_ip: String,
}

fn key_line(k: &ApiKeyView, lang: Lang, tz: chrono_tz::Tz) -> KeyLine {
    let time = |v: &Option<String>| {
        v.as_deref()
            .map(|x| local_minutes(x, tz))
            .unwrap_or_default()
    };
    KeyLine {
        id: k.id,
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        status: k.status.clone(),
        status_text: word(lang, "sa.key_status", &k.status),
        created: local_minutes(&k.created_at, tz),
        expires: time(&k.expires_at),
        last_used: time(&k.last_used_at),
        last_ip: k.last_used_ip.clone().unwrap_or_default(),
    }
}

/// What the new-key form shows again after a refusal.
#[derive(Default)]
struct KeyValues {
    name: String,
    expires_at: String,
    rate_per_second: String,
    burst: String,
}

#[derive(Template)]
#[template(path = "console/admin/service_account.html")]
struct AccountPage {
    chrome: Chrome,
    subnav: SubNav,
    account: AccountLine,
    keys: Vec<KeyLine>,
    values: KeyValues,
    errors: FormErrors,
    notice: Option<String>,
}

fn account_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "service_account")
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    values: KeyValues,
    errors: FormErrors,
    notice: Option<String>,
) -> Response {
    let found = async {
        let id = account_id(id)?;
        let a = state
            .app
            .api_keys()
            .get_service_account(&viewer.actor, id)
            .await?;
        let k = state
            .app
            .api_keys()
            .list_api_keys(&viewer.actor, id)
            .await?;
        Ok::<_, AppError>((a, k))
    }
    .await;
    let (account, keys) = match found {
        Ok(f) => f,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let departments = department_names(state, viewer).await;
    let roles = role_list(state, viewer).await;
    let page = AccountPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/service-accounts"),
        account: account_line(&account, viewer.lang, tz, &departments, &roles),
        // Newest first: the key just rotated in is on top.
        keys: keys
            .iter()
            .rev()
            .map(|k| key_line(k, viewer.lang, tz))
            .collect(),
        values,
        errors,
        notice,
    };
    render(status, &page)
}

/// `GET /admin/service-accounts/{id}`: the account, its keys, the new-key form.
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
    account_page(
        &state,
        &viewer,
        &id,
        StatusCode::OK,
        KeyValues::default(),
        FormErrors::default(),
        notice,
    )
    .await
}

/// `POST /admin/service-accounts/{id}/{disable|enable}`.
pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let disabled = match action.as_str() {
        "disable" => true,
        "enable" => false,
        other => {
            let e = AppError::not_found("page", other);
            return PageError::new(chrome(&viewer), e).into_response();
        }
    };
    let result = match account_id(&id) {
        Ok(aid) => {
            state
                .app
                .api_keys()
                .set_service_account_disabled(&viewer.actor, aid, disabled)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(a) => Redirect::to(&format!("/admin/service-accounts/{}?saved=1", a.id)).into_response(),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "console/admin/api_key_created.html")]
struct CreatedPage {
    chrome: Chrome,
    subnav: SubNav,
    account: AccountLine,
    key: KeyLine,
    token: String,
}

/// `POST /admin/service-accounts/{id}/keys`: the API's create_api_key. The token is in
/// this answer only (never redirected to, never stored; pages are not cached).
pub(crate) async fn create_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let aid = match account_id(&id) {
        Ok(a) => a,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let field = |k: &str| posted.get(k).unwrap_or("").to_string();
    let values = KeyValues {
        name: field("name"),
        expires_at: field("expires_at"),
        rate_per_second: field("rate_per_second"),
        burst: field("burst"),
    };
    let tz = state.app.config.code_timezone;
    let mut errors = Vec::new();
    let rate_per_second = whole_number::<u32>(&posted, "rate_per_second", &mut errors);
    let burst = whole_number::<u32>(&posted, "burst", &mut errors);
    let result = match errors.is_empty() {
        false => Err(AppError::Validation(errors)),
        true => {
            let input = NewApiKey {
                name: values.name.clone(),
                expires_at: Some(values.expires_at.trim())
                    .filter(|e| !e.is_empty())
                    .map(|e| local_datetime(e, tz)),
                rate_per_second,
                burst,
            };
            state
                .app
                .api_keys()
                .create_api_key(&viewer.actor, aid, input)
                .await
        }
    };
    let lang = viewer.lang;
    let (status, errors) = match result {
        Ok(created) => {
            let account = match state
                .app
                .api_keys()
                .get_service_account(&viewer.actor, aid)
                .await
            {
                Ok(a) => a,
                Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
            };
            let departments = department_names(&state, &viewer).await;
            let roles = role_list(&state, &viewer).await;
            let page = CreatedPage {
                chrome: chrome(&viewer),
                subnav: SubNav::new(&viewer, "/admin/service-accounts"),
                account: account_line(&account, lang, tz, &departments, &roles),
                key: key_line(&created.key, lang, tz),
                token: created.token,
            };
            return render(StatusCode::CREATED, &page);
        }
        Err(AppError::Validation(f)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_fields(&f, lang),
        ),
        Err(e @ AppError::Conflict(_)) => {
            (StatusCode::CONFLICT, FormErrors::general(e.detail(lang)))
        }
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    account_page(&state, &viewer, &id, status, values, errors, None).await
}

/// `POST /admin/service-accounts/{id}/keys/{key}/revoke`.
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, key)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let ids = account_id(&id).and_then(|a| {
        key.parse::<i64>()
            .map(|k| (a, k))
            .map_err(|_| AppError::not_found("api_key", &key))
    });
    let result = match ids {
        Ok((a, k)) => {
            state
                .app
                .api_keys()
                .revoke_api_key(&viewer.actor, a, k)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(k) => Redirect::to(&format!("/admin/service-accounts/{}?saved=1", k.account_id))
            .into_response(),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}
