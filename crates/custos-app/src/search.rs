//! Customer search (多条件查询) and statistics (统计报表), both within the caller's data
//! scope.

use crate::customers::Customers;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use custos_core::ident::{Email, IdNumber, Mobile, Phone};
use custos_core::normalize::{name_key, normalize_text};
use custos_core::{industry, region, FieldError, Violation};
use custos_store::customer_master::{
    CustomerFilter, CustomerSort, GroupCount, ScopeFilter, SqlValue, StatGroup,
};
use custos_store::{CustomerRow, Tx};

use crate::actor::Actor;
use crate::auth::format_time;
use crate::codes::issue_date;
use crate::customers::{blind_text, name_grams};
use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;

/// Query parameters of `GET /api/v1/customers`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Code prefix.
    pub code: Option<String>,
    /// Name contains this text (or, with `fuzzy=true`, is similar to it).
    pub name: Option<String>,
    /// Similar names (matching key bigrams), best first; no cursor.
    pub fuzzy: Option<bool>,
    /// Customer type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub customer_type: Option<String>,
    /// Region code prefix: `11` is all of Beijing, `4403` Shenzhen.
    pub region: Option<String>,
    pub industry: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    /// Owner user id.
    pub owner: Option<i64>,
    /// Department id.
    pub department: Option<i64>,
    pub tag: Option<String>,
    /// Exact ID number (blind index).
    pub id_number: Option<String>,
    /// Exact mobile of the customer or a contact (blind index).
    pub mobile: Option<String>,
    /// Exact phone (blind index).
    pub phone: Option<String>,
    /// Exact e-mail (blind index).
    pub email: Option<String>,
    /// Lower bound (inclusive) of the creation time: RFC 3339, or a date (from its start, business time zone).
    pub created_from: Option<String>,
    /// Upper bound (exclusive): RFC 3339, or a date (the whole day included).
    pub created_to: Option<String>,
    pub updated_from: Option<String>,
    pub updated_to: Option<String>,
    /// `id` (default), `code`, `name`, `created_at`, `updated_at`; prefix `-` for descending.
    pub sort: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Also count all matches.
    pub total: Option<bool>,
    /// Custom-field equality (`custom.<key>=value` in the query string).
    #[serde(skip)]
    #[param(ignore)]
    pub custom: Vec<(String, String)>,
}

/// A customer in a list (no personal data).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerSummary {
    pub id: i64,
    pub code: String,
    pub customer_type: String,
    pub name: String,
    pub status: String,
    pub uscc: Option<String>,
    pub region_code: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub industry: Option<String>,
    pub level: Option<String>,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Name similarity 0–1 (fuzzy search only).
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// All matches, when `total=true`.
    pub total: Option<i64>,
}

/// One group of a statistic.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatBucket {
    pub key: Option<String>,
    pub label: Option<String>,
    pub count: i64,
}

/// Counts of customers in the caller's scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerStats {
    pub total: i64,
    pub by_type: Vec<StatBucket>,
    pub by_province: Vec<StatBucket>,
    pub by_city: Vec<StatBucket>,
    pub by_industry: Vec<StatBucket>,
    pub by_status: Vec<StatBucket>,
    pub by_level: Vec<StatBucket>,
    pub by_department: Vec<StatBucket>,
    /// New customers per month (`YYYY-MM`, business time zone), oldest first.
    pub new_per_month: Vec<StatBucket>,
}

fn bad(field: &str, value: &str, zh: &str, en: &str) -> FieldError {
    Violation::new(
        "query.invalid",
        format!("查询参数 {field}=“{value}”无效：{zh}"),
        format!("query parameter {field}='{value}' is invalid: {en}"),
    )
    .on(field)
}

/// A time bound: RFC 3339, or a date alone (`2026-03-01`) in the business time zone —
/// the start of that day for a lower bound, the end of it for an upper bound
/// (`*_to` stays exclusive: the next day's start).
fn time_param(
    field: &str,
    v: &Option<String>,
    tz: chrono_tz::Tz,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let s = v.as_deref()?.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| match field.ends_with("_to") {
            true => d.succ_opt(),
            false => Some(d),
        })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| d.and_local_timezone(tz).earliest());
    match day {
        Some(t) => Some(t.timestamp_micros()),
        None => {
            errors.push(bad(
                field,
                s,
                "应为日期（如 2026-03-01）或 RFC 3339 时间",
                "expected a date (2026-03-01) or an RFC 3339 time",
            ));
            None
        }
    }
}

fn summary(row: &CustomerRow, score: Option<f64>) -> CustomerSummary {
    let names = row.region_code.as_deref().and_then(region::names);
    CustomerSummary {
        id: row.id,
        code: row.code.clone(),
        customer_type: row.customer_type.clone(),
        name: row.name.clone(),
        status: row.status.clone(),
        uscc: row.uscc.clone(),
        region_code: row.region_code.clone(),
        province: names.as_ref().map(|n| n.province.to_string()),
        city: names.as_ref().and_then(|n| n.city.map(str::to_string)),
        industry: row.industry.clone(),
        level: row.level.clone(),
        owner_id: row.owner_id,
        department_id: row.department_id,
        created_at: format_time(row.created_at),
        updated_at: format_time(row.updated_at),
        version: row.row_version,
        score,
    }
}

/// Dice coefficient of two bigram sets.
pub fn similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.iter().filter(|g| b.contains(g)).count();
    2.0 * common as f64 / (a.len() + b.len()) as f64
}

/// Minimum similarity of a fuzzy match.
pub const FUZZY_THRESHOLD: f64 = 0.5;

use crate::customers::scope_filter;

fn encode_cursor(v: &SqlValue, id: i64) -> String {
    let json = match v {
        SqlValue::Int(i) => serde_json::json!([i, id]),
        SqlValue::Text(t) => serde_json::json!([t, id]),
    };
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn decode_cursor(s: &str, sort: CustomerSort) -> Option<(SqlValue, i64)> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let arr = v.as_array()?;
    let id = arr.get(1)?.as_i64()?;
    let value = if sort.is_text() {
        SqlValue::Text(arr.first()?.as_str()?.to_string())
    } else {
        SqlValue::Int(arr.first()?.as_i64()?)
    };
    Some((value, id))
}

fn sort_value(row: &CustomerRow, sort: CustomerSort) -> SqlValue {
    match sort {
        CustomerSort::Id => SqlValue::Int(row.id),
        CustomerSort::Code => SqlValue::Text(row.code.clone()),
        CustomerSort::Name => SqlValue::Text(row.name.clone()),
        CustomerSort::CreatedAt => SqlValue::Int(row.created_at),
        CustomerSort::UpdatedAt => SqlValue::Int(row.updated_at),
    }
}

/// No filter may hold a control or invisible character (a NUL would reach the database).
fn refuse_query_text(q: &CustomerQuery) -> AppResult<()> {
    let named = crate::text_input::refuse_in("", q);
    let custom = crate::text_input::refuse_single_line(q.custom.iter().flat_map(|(k, v)| {
        let field = format!("custom.{}", custos_core::text_guard::display_safe(k));
        [(field.clone(), Some(k.as_str())), (field, Some(v.as_str()))]
    }));
    match (named, custom) {
        (Err(AppError::Validation(mut a)), Err(AppError::Validation(b))) => {
            a.extend(b);
            Err(AppError::Validation(a))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// A customer query that passed its checks.
struct SearchPlan {
    filter: CustomerFilter,
    sort: CustomerSort,
    /// Page size as asked (the filter asks for one more, to know of a next page).
    limit: i64,
    /// Bigrams of the name for a fuzzy search; empty for a plain one.
    fuzzy_grams: Vec<String>,
    fuzzy: bool,
}

/// The filters taken as given: trimmed or normalised, times parsed.
fn plain_filters(
    actor: &Actor,
    q: &CustomerQuery,
    tz: chrono_tz::Tz,
    errors: &mut Vec<FieldError>,
) -> CustomerFilter {
    CustomerFilter {
        customer_type: q
            .customer_type
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty()),
        status: q
            .status
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty()),
        level: q
            .level
            .as_deref()
            .map(normalize_text)
            .filter(|s| !s.is_empty()),
        tag: q
            .tag
            .as_deref()
            .map(normalize_text)
            .filter(|s| !s.is_empty()),
        owner_id: q.owner,
        department_id: q.department,
        custom: q
            .custom
            .iter()
            .map(|(k, v)| (k.clone(), normalize_text(v)))
            .collect(),
        created_from: time_param("created_from", &q.created_from, tz, errors),
        created_to: time_param("created_to", &q.created_to, tz, errors),
        updated_from: time_param("updated_from", &q.updated_from, tz, errors),
        updated_to: time_param("updated_to", &q.updated_to, tz, errors),
        hide_archived: crate::customers::archive_hidden_from(actor),
        ..Default::default()
    }
}

/// An industry section (a letter) also matches every division under it.
fn industry_filter(q: &CustomerQuery, f: &mut CustomerFilter, errors: &mut Vec<FieldError>) {
    if let Some(i) = q
        .industry
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match industry::validate_industry(i) {
            Ok(code) if code.chars().all(|c| c.is_ascii_alphabetic()) => {
                f.industries = industry::divisions(&code)
                    .iter()
                    .map(|d| d.code.to_string())
                    .collect();
                f.industries.push(code);
            }
            Ok(code) => f.industries = vec![code],
            Err(v) => errors.push(v.on("industry")),
        }
    }
}

/// A region code prefix of 1–6 digits; trailing zero pairs mean the whole area.
fn region_filter(q: &CustomerQuery, f: &mut CustomerFilter, errors: &mut Vec<FieldError>) {
    if let Some(r) = q
        .region
        .as_deref()
        .map(normalize_text)
        .filter(|s| !s.is_empty())
    {
        if r.len() > 6 || !r.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(bad(
                "region",
                &r,
                "应为 1–6 位数字的行政区划代码前缀",
                "expected a 1–6 digit region code prefix",
            ));
        } else {
            // `110000` means the whole province: trim trailing zero pairs.
            let mut p = r.clone();
            while p.len() > 2 && p.ends_with("00") {
                p.truncate(p.len() - 2);
            }
            f.region_prefix = Some(p);
        }
    }
}

/// Exact personal identifiers, looked up by their blind index.
fn blind_filters(
    key: &PiiKey,
    today: NaiveDate,
    q: &CustomerQuery,
    f: &mut CustomerFilter,
    errors: &mut Vec<FieldError>,
) {
    let mut blind =
        |field: &str, v: &Option<String>, canon: &dyn Fn(&str) -> Result<String, Violation>| {
            if let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                match canon(s) {
                    Ok(c) => f
                        .blind
                        .push((field.to_string(), key.blinds(field, &blind_text(field, &c)))),
                    Err(v) => errors.push(v.on(field)),
                }
            }
        };
    blind("id_number", &q.id_number, &|s| {
        IdNumber::parse(s, today).map(|i| i.as_str().to_string())
    });
    blind("mobile", &q.mobile, &|s| {
        Mobile::parse(s).map(|m| m.as_str().to_string())
    });
    blind("phone", &q.phone, &|s| {
        Phone::parse(s).map(|m| m.as_str().to_string())
    });
    blind("email", &q.email, &|s| {
        Email::parse(s).map(|m| m.as_str().to_string())
    });
}

/// The sort column and direction (`-` prefix: descending); `id` ascending by default.
fn sort_param(sort: Option<&str>, errors: &mut Vec<FieldError>) -> (CustomerSort, bool) {
    let s = sort.map(str::trim).unwrap_or("id");
    let (desc, name) = match s.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, s),
    };
    let sort = match name {
        "id" => Some(CustomerSort::Id),
        "code" => Some(CustomerSort::Code),
        "name" => Some(CustomerSort::Name),
        "created_at" => Some(CustomerSort::CreatedAt),
        "updated_at" => Some(CustomerSort::UpdatedAt),
        _ => None,
    };
    match sort {
        Some(s) => (s, desc),
        None => {
            errors.push(bad(
                "sort",
                s,
                "可选 id、code、name、created_at、updated_at，前加 - 为降序",
                "use id, code, name, created_at or updated_at, prefixed by - for descending",
            ));
            (CustomerSort::Id, false)
        }
    }
}

/// The page size, 1–200 (default 50).
fn limit_param(limit: Option<i64>, errors: &mut Vec<FieldError>) -> i64 {
    let limit = limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(bad(
            "limit",
            &limit.to_string(),
            "应在 1–200 之间",
            "must be 1–200",
        ));
    }
    // Out-of-range values were refused above; clamping keeps the arithmetic below
    // in bounds while the errors are gathered.
    limit.clamp(1, 200)
}

/// The name filter: contained text (with its bigrams to narrow the scan), or, for a
/// fuzzy search, the bigrams of its matching key. Returns those fuzzy bigrams.
fn name_filter(
    q: &CustomerQuery,
    fuzzy: bool,
    f: &mut CustomerFilter,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let name = q
        .name
        .as_deref()
        .map(normalize_text)
        .filter(|s| !s.is_empty());
    let mut fuzzy_grams = Vec::new();
    if let Some(n) = &name {
        if fuzzy {
            let k = name_key(n).key;
            fuzzy_grams = name_grams(if k.is_empty() { n } else { &k });
            if fuzzy_grams.is_empty() {
                errors.push(bad(
                    "name",
                    n,
                    "模糊查询需要至少一个字母、数字或汉字",
                    "fuzzy search needs a letter, digit or CJK character",
                ));
            }
        } else {
            let grams = name_grams(n);
            if n.chars().filter(|c| c.is_alphanumeric()).count() >= 2 {
                f.name_grams = grams;
            }
            f.name_contains = Some(n.clone());
        }
    } else if fuzzy {
        errors.push(bad(
            "fuzzy",
            "true",
            "模糊查询需要 name 参数",
            "fuzzy search needs the name parameter",
        ));
    }
    fuzzy_grams
}

/// Check every parameter of a query and report every problem at once.
fn search_plan(
    actor: &Actor,
    key: &PiiKey,
    tz: chrono_tz::Tz,
    q: &CustomerQuery,
) -> AppResult<SearchPlan> {
    let today = issue_date(tz);
    let mut errors = Vec::new();
    let mut f = plain_filters(actor, q, tz, &mut errors);
    industry_filter(q, &mut f, &mut errors);
    if let Some(c) = q
        .code
        .as_deref()
        .map(|s| normalize_text(s).to_ascii_uppercase())
        .filter(|s| !s.is_empty())
    {
        f.code = Some(c);
    }
    region_filter(q, &mut f, &mut errors);
    blind_filters(key, today, q, &mut f, &mut errors);
    let (sort, desc) = sort_param(q.sort.as_deref(), &mut errors);
    f.sort = sort;
    f.desc = desc;
    let limit = limit_param(q.limit, &mut errors);
    f.limit = limit + 1;
    if let Some(c) = &q.cursor {
        match decode_cursor(c, sort) {
            Some(a) => f.after = Some(a),
            None => errors.push(bad(
                "cursor",
                c,
                "不是本查询返回的游标",
                "not a cursor returned by this query",
            )),
        }
    }
    let fuzzy = q.fuzzy.unwrap_or(false);
    let fuzzy_grams = name_filter(q, fuzzy, &mut f, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(SearchPlan {
        filter: f,
        sort,
        limit,
        fuzzy_grams,
        fuzzy,
    })
}

/// A fuzzy page: candidates sharing the most bigrams, ranked by similarity, no cursor.
async fn fuzzy_page(mut tx: Tx, plan: SearchPlan, want_total: bool) -> AppResult<CustomerPage> {
    let SearchPlan {
        mut filter,
        limit,
        fuzzy_grams,
        ..
    } = plan;
    // Candidates sharing the most bigrams; a few times the page is enough to
    // rank the best of them by similarity.
    let want = (limit * 3).max(300);
    let candidates = tx.name_gram_candidates(&fuzzy_grams, want).await?;
    filter.ids = Some(candidates);
    filter.after = None;
    filter.limit = want;
    let rows = tx.search_customers(&filter).await?;
    tx.rollback().await?;
    let mut scored: Vec<(f64, CustomerRow)> = rows
        .into_iter()
        .map(|r| {
            let g = name_grams(if r.name_key.is_empty() {
                &r.name
            } else {
                &r.name_key
            });
            (similarity(&fuzzy_grams, &g), r)
        })
        .filter(|(s, _)| *s >= FUZZY_THRESHOLD)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    let total = scored.len() as i64;
    scored.truncate(limit as usize);
    Ok(CustomerPage {
        items: scored
            .iter()
            .map(|(s, r)| summary(r, Some((s * 1000.0).round() / 1000.0)))
            .collect(),
        next_cursor: None,
        total: want_total.then_some(total),
    })
}

/// A page in sort order, with a cursor when more follow.
async fn sorted_page(mut tx: Tx, plan: SearchPlan, want_total: bool) -> AppResult<CustomerPage> {
    let SearchPlan {
        filter,
        sort,
        limit,
        ..
    } = plan;
    let mut rows = tx.search_customers(&filter).await?;
    let total = if want_total {
        Some(tx.count_matching_customers(&filter).await?)
    } else {
        None
    };
    tx.rollback().await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| encode_cursor(&sort_value(r, sort), r.id))
    } else {
        None
    };
    Ok(CustomerPage {
        items: rows.iter().map(|r| summary(r, None)).collect(),
        next_cursor,
        total,
    })
}

impl Customers<'_> {
    /// Search customers within the caller's data scope (`customer.read`).
    pub async fn search_customers(
        &self,
        actor: &Actor,
        q: CustomerQuery,
    ) -> AppResult<CustomerPage> {
        let scope = actor.require("customer.read")?;
        refuse_query_text(&q)?;
        let mut plan = search_plan(
            actor,
            &self.app.config.pii_key,
            self.app.config.code_timezone,
            &q,
        )?;
        let want_total = q.total.unwrap_or(false);
        let mut tx = self.app.db.begin_read().await?;
        plan.filter.scope = scope_filter(&mut tx, actor, scope).await?;
        if plan.fuzzy {
            fuzzy_page(tx, plan, want_total).await
        } else {
            sorted_page(tx, plan, want_total).await
        }
    }

    /// Customer statistics within the caller's `stats.read` scope.
    pub async fn customer_stats(&self, actor: &Actor) -> AppResult<CustomerStats> {
        let scope = actor.require("stats.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let sf = scope_filter(&mut tx, actor, scope).await?;
        // SQLite reads tallies kept with every change, cheaper than any cache and never
        // stale; PostgreSQL counts, so its counts are kept for a while per scope.
        let ttl = match self.app.db.backend() {
            custos_store::Backend::Sqlite => std::time::Duration::ZERO,
            custos_store::Backend::Postgres => self.app.config.stats_cache_ttl,
        };
        let key = format!("{sf:?}");
        if let Some(stats) = self.app.stats_cache.get(&key, ttl) {
            tx.rollback().await?;
            return Ok(stats);
        }
        let stats = count_customers(tx, &sf).await?;
        self.app.stats_cache.put(key, &stats, ttl);
        Ok(stats)
    }
}

/// Count the customers of one scope by every grouping the statistics show.
async fn count_customers(mut tx: Tx, sf: &ScopeFilter) -> AppResult<CustomerStats> {
    let mut get = async |g: StatGroup| -> AppResult<Vec<GroupCount>> {
        Ok(tx.customer_group_counts(sf, g).await?)
    };
    let by_type = get(StatGroup::Type).await?;
    let by_province = get(StatGroup::Province).await?;
    let by_city = get(StatGroup::City).await?;
    let by_industry = get(StatGroup::Industry).await?;
    let by_status = get(StatGroup::Status).await?;
    let by_level = get(StatGroup::Level).await?;
    let by_department = get(StatGroup::Department).await?;
    let mut by_month = get(StatGroup::Month).await?;
    let types = crate::customers::load_customer_types(&mut tx).await?;
    let departments = tx.departments().await?;
    tx.rollback().await?;
    by_month.sort_by(|a, b| a.key.cmp(&b.key));
    let plain = |v: Vec<GroupCount>| -> Vec<StatBucket> {
        v.into_iter()
            .map(|g| StatBucket {
                key: g.key,
                label: None,
                count: g.count,
            })
            .collect()
    };
    let labelled =
        |v: Vec<GroupCount>, label: &dyn Fn(&str) -> Option<String>| -> Vec<StatBucket> {
            v.into_iter()
                .map(|g| StatBucket {
                    label: g.key.as_deref().and_then(label),
                    key: g.key,
                    count: g.count,
                })
                .collect()
        };
    let total = by_type.iter().map(|g| g.count).sum();
    Ok(CustomerStats {
        total,
        by_type: labelled(by_type, &|k| {
            types
                .iter()
                .find(|t| t.key == k)
                .map(|t| t.label_zh.clone())
        }),
        by_province: labelled(
            by_province
                .into_iter()
                .map(|g| GroupCount {
                    key: g.key.map(|k| format!("{k}0000")),
                    count: g.count,
                })
                .collect(),
            &|k| region::lookup(k).map(|r| r.name.to_string()),
        ),
        by_city: labelled(
            by_city
                .into_iter()
                .map(|g| GroupCount {
                    key: g.key.map(|k| format!("{k}00")),
                    count: g.count,
                })
                .collect(),
            &|k| {
                region::names(k).map(|n| match n.city {
                    Some(c) => format!("{}{c}", n.province),
                    None => n.province.to_string(),
                })
            },
        ),
        by_industry: labelled(by_industry, &|k| industry::name(k).map(str::to_string)),
        by_status: plain(by_status),
        by_level: plain(by_level),
        by_department: labelled(by_department, &|k| {
            k.parse::<i64>()
                .ok()
                .and_then(|id| departments.iter().find(|d| d.id == id))
                .map(|d| d.name.clone())
        }),
        new_per_month: plain(by_month),
    })
}
