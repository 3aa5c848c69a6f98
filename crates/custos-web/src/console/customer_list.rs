//! `/customers` (客户列表): every filter of `GET /api/v1/customers` in the URL, keyset
//! pages, the columns the viewer chose, and "导出此列表" (an export job of the same
//! filter). The rows, names and masks come from `Customers::customer_list`.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::clock::local_minutes;
use custos_app::customer_list::{CustomerList, ListedCustomer};
use custos_app::export::job::{ExportFilter, ExportRequest};
use custos_app::terms::{choices, term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::{industry, region};

use super::choices::{choice, Choice, ChoiceGroup};
use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::region_cascade::{region_cascade, RegionUse};
use super::session::{cookie, encode_component, set_cookie, Viewer};
use crate::AppState;

/// The cookie that remembers the viewer's columns (keys joined by `.`).
const COLUMNS_COOKIE: &str = "custos_list_columns";

/// Every column a list can show: `(key, catalog word)`.
const COLUMNS: &[(&str, &str)] = &[
    ("code", "list.col.code"),
    ("name", "list.col.name"),
    ("type", "list.col.type"),
    ("status", "list.col.status"),
    ("region", "list.col.region"),
    ("industry", "list.col.industry"),
    ("level", "list.col.level"),
    ("uscc", "list.col.uscc"),
    ("mobile", "list.col.mobile"),
    ("owner", "list.col.owner"),
    ("department", "list.col.department"),
    ("created_at", "list.col.created_at"),
    ("updated_at", "list.col.updated_at"),
];

const DEFAULT_COLUMNS: &[&str] = &[
    "code",
    "name",
    "type",
    "status",
    "region",
    "industry",
    "owner",
    "mobile",
    "updated_at",
];

/// Sort choices: the API's `sort` values.
const SORTS: &[(&str, &str)] = &[
    ("id", "list.sort.id"),
    ("-id", "list.sort.id_desc"),
    ("code", "list.sort.code"),
    ("name", "list.sort.name"),
    ("-created_at", "list.sort.created_desc"),
    ("created_at", "list.sort.created"),
    ("-updated_at", "list.sort.updated_desc"),
    ("updated_at", "list.sort.updated"),
];

/// A cell of the table.
pub(crate) struct Cell {
    pub text: String,
    /// The code and the name open the customer.
    pub link: bool,
}

pub(crate) struct Row {
    pub href: String,
    pub code: String,
    pub cells: Vec<Cell>,
    pub score: Option<String>,
}

pub(crate) struct Column {
    pub key: &'static str,
    pub label_key: &'static str,
    pub shown: bool,
}

/// A custom field's filter input.
pub(crate) struct CustomInput {
    pub name: String,
    pub id: String,
    pub label: String,
    pub value: String,
    pub options: Vec<Choice>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/customers/list.html")]
struct ListPage {
    chrome: Chrome,
    q: ListQuery,
    errors: Vec<(String, String)>,
    types: Vec<Choice>,
    statuses: Vec<Choice>,
    industries: Vec<ChoiceGroup>,
    owners: Vec<Choice>,
    departments: Vec<Choice>,
    sorts: Vec<Choice>,
    limits: Vec<Choice>,
    customs: Vec<CustomInput>,
    region_html: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    searched: bool,
    total: Option<i64>,
    next_href: Option<String>,
    first_href: Option<String>,
    query_string: String,
    can_export: bool,
    fuzzy: bool,
    more_open: bool,
}

impl ListPage {
    fn v(&self, key: &str) -> &str {
        self.q.get(key).unwrap_or("")
    }

    fn err(&self, key: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_str())
    }

    fn date_label(&self, key: &str) -> &'static str {
        match key {
            "created_from" => "list.created_from",
            "created_to" => "list.created_to",
            "updated_from" => "list.updated_from",
            _ => "list.updated_to",
        }
    }

    fn exact_label(&self, key: &str) -> &'static str {
        match key {
            "id_number" => "list.id_number",
            "mobile" => "list.mobile",
            "phone" => "list.phone",
            _ => "list.email",
        }
    }

    fn invalid(&self, key: &str) -> &'static str {
        match self.err(key) {
            Some(_) => "true",
            None => "false",
        }
    }
}

/// The columns the viewer chose (the cookie), else the default ones.
fn chosen_columns(headers: &axum::http::HeaderMap) -> Vec<Column> {
    let saved: Vec<&str> = cookie(headers, COLUMNS_COOKIE)
        .map(|c| c.split('.').filter(|k| !k.is_empty()).collect())
        .unwrap_or_default();
    let known = saved.iter().any(|k| COLUMNS.iter().any(|(c, _)| c == k));
    COLUMNS
        .iter()
        .map(|(key, label_key)| Column {
            key,
            label_key,
            // The code is always shown: it opens the customer.
            shown: *key == "code"
                || match known {
                    true => saved.contains(key),
                    false => DEFAULT_COLUMNS.contains(key),
                },
        })
        .collect()
}

fn type_label(list: &CustomerList, code: &str, lang: Lang) -> String {
    match list.choices.customer_types.iter().find(|t| t.key == code) {
        Some(t) if lang == Lang::En => t.label_en.clone(),
        Some(t) => t.label_zh.clone(),
        None => term_or_code(Terms::CustomerType, code, lang),
    }
}

fn region_label(code: Option<&str>) -> String {
    let Some(code) = code else {
        return String::new();
    };
    match region::names(code) {
        Some(n) => {
            let parts: Vec<&str> = [Some(n.province), n.city, n.district]
                .into_iter()
                .flatten()
                .collect();
            format!("{}（{code}）", parts.join(" "))
        }
        None => code.to_string(),
    }
}

fn cell_text(
    key: &str,
    c: &ListedCustomer,
    list: &CustomerList,
    lang: Lang,
    tz: chrono_tz::Tz,
) -> String {
    let s = &c.summary;
    let named = |name: &Option<String>, id: Option<i64>| match (name, id) {
        (Some(n), Some(id)) => format!("{n}（{id}）"),
        (None, Some(id)) => id.to_string(),
        _ => String::new(),
    };
    match key {
        "code" => s.code.clone(),
        "name" => s.name.clone(),
        "type" => type_label(list, &s.customer_type, lang),
        "status" => term_or_code(Terms::CustomerStatus, &s.status, lang),
        "region" => region_label(s.region_code.as_deref()),
        "industry" => match s.industry.as_deref() {
            Some(i) => match industry::name(i) {
                Some(n) => format!("{i} {n}"),
                None => i.to_string(),
            },
            None => String::new(),
        },
        "level" => s.level.clone().unwrap_or_default(),
        "uscc" => s.uscc.clone().unwrap_or_default(),
        "mobile" => c.mobile_masked.clone().unwrap_or_default(),
        "owner" => named(&c.owner_name, s.owner_id),
        "department" => named(&c.department_name, s.department_id),
        "created_at" => local_minutes(&s.created_at, tz),
        "updated_at" => local_minutes(&s.updated_at, tz),
        _ => String::new(),
    }
}

fn rows_of(list: &CustomerList, columns: &[Column], lang: Lang, tz: chrono_tz::Tz) -> Vec<Row> {
    list.rows
        .iter()
        .map(|c| Row {
            href: format!("/customers/{}", encode_component(&c.summary.code)),
            code: c.summary.code.clone(),
            cells: columns
                .iter()
                .filter(|col| col.shown)
                .map(|col| Cell {
                    text: cell_text(col.key, c, list, lang, tz),
                    link: matches!(col.key, "code" | "name"),
                })
                .collect(),
            score: c.summary.score.map(|s| format!("{:.0}%", s * 100.0)),
        })
        .collect()
}

fn industry_groups(current: Option<&str>, lang: Lang) -> Vec<ChoiceGroup> {
    let current = current.map(|c| c.trim().to_ascii_uppercase());
    let current = current.as_deref();
    industry::sections()
        .into_iter()
        .map(|s| ChoiceGroup {
            label: format!("{} {}", s.code, s.name),
            options: std::iter::once(choice(
                s.code,
                format!("{} {}{}", s.code, s.name, t(lang, "list.industry_all")),
                current,
            ))
            .chain(
                industry::divisions(s.code)
                    .into_iter()
                    .map(|d| choice(d.code, format!("{} {}", d.code, d.name), current)),
            )
            .collect(),
        })
        .collect()
}

fn with_any(lang: Lang, options: impl IntoIterator<Item = Choice>) -> Vec<Choice> {
    std::iter::once(choice("", t(lang, "list.any"), None))
        .chain(options)
        .collect()
}

/// The select options of the form, built from the list's choices and the query.
fn form_choices(page: &mut ListPage, list: &CustomerList) {
    let lang = page.chrome.lang;
    let q = &page.q;
    page.types = with_any(
        lang,
        list.choices.customer_types.iter().map(|ty| {
            let label = match lang {
                Lang::En => ty.label_en.clone(),
                Lang::Zh => ty.label_zh.clone(),
            };
            choice(ty.key.clone(), label, q.get("type"))
        }),
    );
    page.statuses = with_any(
        lang,
        choices(Terms::CustomerStatus, lang)
            .into_iter()
            .map(|(c, l)| choice(c, l, q.get("status"))),
    );
    let owner = q.get("owner");
    let mut owners: Vec<Choice> = list
        .choices
        .owners
        .iter()
        .map(|(id, n)| choice(id.to_string(), format!("{n}（{id}）"), owner))
        .collect();
    if let Some(o) = owner.filter(|o| !owners.iter().any(|c| c.value == *o)) {
        owners.push(choice(o, o, Some(o)));
    }
    page.owners = with_any(lang, owners);
    let dept = q.get("department");
    let mut departments: Vec<Choice> = list
        .choices
        .departments
        .iter()
        .map(|(id, n)| choice(id.to_string(), n.clone(), dept))
        .collect();
    if let Some(d) = dept.filter(|d| !departments.iter().any(|c| c.value == *d)) {
        departments.push(choice(d, d, Some(d)));
    }
    page.departments = with_any(lang, departments);
    page.industries = industry_groups(q.get("industry"), lang);
    page.sorts = SORTS
        .iter()
        .map(|(v, k)| choice(*v, t(lang, k), Some(q.get("sort").unwrap_or("id"))))
        .collect();
    page.limits = ["20", "50", "100", "200"]
        .iter()
        .map(|v| choice(*v, *v, Some(q.get("limit").unwrap_or("50"))))
        .collect();
    page.customs = list
        .choices
        .custom_fields
        .iter()
        .map(|f| {
            let name = format!("custom.{}", f.key);
            let value = q.get(&name).unwrap_or("").to_string();
            CustomInput {
                id: format!("custom-{}", f.key),
                label: match lang {
                    Lang::En => f.label_en.clone(),
                    Lang::Zh => f.label_zh.clone(),
                },
                options: match f.allowed_values.is_empty() {
                    true => Vec::new(),
                    false => with_any(
                        lang,
                        f.allowed_values
                            .iter()
                            .map(|v| choice(v.clone(), v.clone(), Some(value.as_str()))),
                    ),
                },
                error: None,
                name,
                value,
            }
        })
        .collect();
}

/// Filters kept under "更多条件"; the section opens when one of them is set.
const MORE: &[&str] = &[
    "level",
    "tag",
    "department",
    "id_number",
    "mobile",
    "phone",
    "email",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
];

/// `GET /customers`.
pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let chrome = Chrome::new(&viewer, "/customers", "list.title");
    let lang = viewer.lang;
    let q = ListQuery::parse(raw.as_deref());
    let list = match q.customer_query() {
        Ok(cq) => state.app.customers().customer_list(&viewer.actor, cq).await,
        Err(AppError::Validation(errors)) => {
            // The form still needs its choices: the list with no filter's rows is not
            // read (an impossible limit is refused before any search).
            let probe = custos_app::search::CustomerQuery {
                limit: Some(0),
                ..Default::default()
            };
            state
                .app
                .customers()
                .customer_list(&viewer.actor, probe)
                .await
                .map(|mut l| {
                    l.errors = errors;
                    l
                })
        }
        Err(e) => Err(e),
    };
    let list = match list {
        Ok(l) => l,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let columns = chosen_columns(&headers);
    let errors: Vec<(String, String)> = list
        .errors
        .iter()
        .map(|f| {
            let field = f.field.strip_prefix("query.").unwrap_or(&f.field);
            (field.to_string(), f.violation.message(lang).to_string())
        })
        .collect();
    let status = match errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let fuzzy = q.is_on("fuzzy");
    let base = q.encoded_without(&["cursor"]);
    let next_href = list.next_cursor.as_ref().map(|c| {
        let next = q.with("cursor", Some(c));
        format!("/customers?{}", next.encoded_without(&[]))
    });
    let first_href = q.get("cursor").map(|_| format!("/customers?{base}"));
    let rows = rows_of(&list, &columns, lang, state.app.config.code_timezone);
    let more_open = MORE.iter().any(|k| q.get(k).is_some())
        || errors.iter().any(|(k, _)| MORE.contains(&k.as_str()));
    let region_html = region_cascade(lang, q.get("region"), RegionUse::Filter).html();
    let mut page = ListPage {
        chrome,
        searched: errors.is_empty(),
        total: list.total,
        errors,
        types: Vec::new(),
        statuses: Vec::new(),
        industries: Vec::new(),
        owners: Vec::new(),
        departments: Vec::new(),
        sorts: Vec::new(),
        limits: Vec::new(),
        customs: Vec::new(),
        region_html,
        columns,
        rows,
        next_href,
        first_href,
        query_string: base,
        can_export: viewer.actor.can("export"),
        fuzzy,
        more_open,
        q,
    };
    form_choices(&mut page, &list);
    for c in &mut page.customs {
        c.error = page
            .errors
            .iter()
            .find(|(k, _)| *k == c.name)
            .map(|(_, m)| m.clone());
    }
    render(status, &page)
}

/// `POST /customers/list/columns`: remember the chosen columns, back to the same list.
pub(crate) async fn columns(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(Chrome::new(&viewer, "/customers", "list.title"));
    }
    let chosen: Vec<&str> = COLUMNS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| posted.fields.iter().any(|(f, v)| f == "column" && v == k))
        .collect();
    let value = match chosen.is_empty() {
        true => DEFAULT_COLUMNS.join("."),
        false => chosen.join("."),
    };
    let back = ListQuery::parse(posted.get("query")).encoded_without(&["cursor"]);
    let mut r = Redirect::to(&format!("/customers?{back}")).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, COLUMNS_COOKIE, &value, Some(400 * 24 * 3600), "Lax"),
    );
    r
}

/// `POST /customers/list/export`: an export job of the list's filter; then its page,
/// which follows the job's progress.
pub(crate) async fn export(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/customers", "list.title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let q = ListQuery::parse(posted.get("query"));
    let query = match q.customer_query() {
        Ok(q) => q,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let req = ExportRequest {
        format: posted.get("format").map(str::to_string),
        gbk: None,
        filter: Some(ExportFilter::from_query(&query)),
    };
    match crate::api::exports::start_export(&state, viewer.actor.clone(), req.into()).await {
        Ok(job) => Redirect::to(&format!("/exports/{}", job.id)).into_response(),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}
