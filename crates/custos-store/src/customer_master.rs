//! Around the customer table: change history with snapshots, the PII blind index, tags,
//! name n-grams, custom field values, cross-references, and the search and statistics
//! queries over them.

use crate::customers::CUSTOMER_COLS;
use crate::db::SavepointPrefix;
use crate::lookups::{BLIND_INDEX, NAME_GRAMS};
use crate::org::join_ids;
use crate::{on_tx, Backend, CustomerRow, StoreError, StoreResult, Tx, TxConn};
use crate::{AuditRecord, CodeRow};
use sqlx::Row;
use std::sync::OnceLock;

/// One change of a customer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub customer_id: i64,
    pub row_version: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub reason: Option<String>,
    /// JSON list of `{field, old, new}` (PII masked). Empty for a creation: its changes
    /// are every field of `snapshot`, derived when read.
    pub changes: String,
    /// JSON of the stored record after the change (PII encrypted).
    pub snapshot: String,
}

const HISTORY_COLS: &str =
    "id, customer_id, row_version, at, actor_id, actor_name, action, reason, changes, snapshot";

/// Derived lookup rows of one customer, rewritten on every change.
#[derive(Debug, Clone, Default)]
pub struct CustomerIndexes {
    /// (kind, HMAC hex) of PII values.
    pub blind: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub grams: Vec<String>,
    /// (custom field key, value) pairs.
    pub fields: Vec<(String, String)>,
    /// Keyed hashes of the duplicate-check blocking keys.
    pub match_keys: Vec<i64>,
}

/// The index lists of a customer as stored: sorted, without repeats.
struct IndexLists {
    blind: Vec<Vec<String>>,
    tags: Vec<Vec<String>>,
    grams: Vec<Vec<String>>,
    fields: Vec<Vec<String>>,
}

impl IndexLists {
    fn of(ix: &CustomerIndexes) -> IndexLists {
        let sorted = |mut v: Vec<Vec<String>>| {
            v.sort();
            v.dedup();
            v
        };
        IndexLists {
            blind: sorted(
                ix.blind
                    .iter()
                    .map(|(k, h)| vec![k.clone(), h.clone()])
                    .collect(),
            ),
            tags: sorted(ix.tags.iter().map(|t| vec![t.clone()]).collect()),
            grams: sorted(ix.grams.iter().map(|g| vec![g.clone()]).collect()),
            fields: sorted(
                ix.fields
                    .iter()
                    .map(|(k, v)| vec![k.clone(), v.clone()])
                    .collect(),
            ),
        }
    }
}

/// A list as the JSON array text `json_each` reads (lists of strings and integers
/// always serialise).
pub(crate) fn json_list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// What [`Tx::insert_new_customer`] writes. The code registry entry and the history
/// entry get the new customer's id from the store.
pub struct NewCustomerWrite<'a> {
    pub row: &'a CustomerRow,
    /// `YYYY-MM` of creation in the business time zone.
    pub created_month: &'a str,
    pub code: &'a CodeRow,
    pub indexes: &'a CustomerIndexes,
    pub history: &'a HistoryRow,
    pub audit: &'a AuditRecord,
}

/// [`Tx::insert_new_customer`] on SQLite, given the new id as `$55` (known in advance:
/// see `WriteCache::next_customer_id`), so it returns nothing and can be sent ahead
/// (`Tx::send_behind`). List-valued indexes arrive as JSON arrays (one-element arrays
/// for single columns), so the text never changes and stays a cached prepared statement.
/// Single rows are inserted from VALUES and the lookup tables with INSERT OR IGNORE
/// (their lists are deduplicated): SQLite then needs no statement journal, the page
/// copies a statement that may fail half-way costs (migration 0009). The match keys,
/// name bigrams and blind-index hashes ($26, $28, $30 on PostgreSQL) are not written here
/// but queued in the transaction (see `lookups`).
const NEW_CUSTOMER_SQLITE: &str = "\
INSERT INTO customers (id, code, customer_type, name, name_key, status, uscc, region_code, \
    industry, level, owner_id, department_id, data, created_by, created_at, updated_at, \
    row_version, created_month) \
VALUES ($55, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, 1, $15);
INSERT INTO code_registry (code, customer_id, rule_key, rule_version, scope, seq, manual, \
    status, redirect_to, issued_at, issued_by, reason) \
VALUES ($1, $55, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25);
INSERT OR IGNORE INTO customer_tags (customer_id, tag) \
SELECT $55, json_extract(j.value, '$[0]') FROM json_each($27) j;
INSERT OR IGNORE INTO customer_field_values (customer_id, key, value) \
SELECT $55, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]') FROM json_each($29) j;
INSERT INTO customer_history (customer_id, row_version, at, actor_id, actor_name, action, \
    reason, changes, snapshot) \
VALUES ($55, $31, $32, $33, $34, $35, $36, $37, $38);
INSERT INTO audit_log (seq, at, actor_id, actor_name, source, action, target_type, \
    target_id, before_json, after_json, reason, request_id, ip, prev_hash, hash, key_id) \
VALUES ($39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49, $50, $51, $52, $53, $54);
UPDATE audit_head SET seq = $39, hash = $53 WHERE id = 1;";

/// [`NEW_CUSTOMER_SQLITE`] beginning with the savepoint statements it must run under.
fn new_customer_sqlite(prefix: SavepointPrefix) -> &'static str {
    static SQL: OnceLock<[String; 2]> = OnceLock::new();
    let [open, renew] = SQL.get_or_init(|| {
        [SavepointPrefix::Open, SavepointPrefix::Renew]
            .map(|p| format!("{}{NEW_CUSTOMER_SQLITE}", p.sql()))
    });
    match prefix {
        SavepointPrefix::None => NEW_CUSTOMER_SQLITE,
        SavepointPrefix::Open => open,
        SavepointPrefix::Renew => renew,
    }
}

/// [`NEW_CUSTOMER_SQLITE`] for PostgreSQL: one statement whose parts are data-modifying
/// common table expressions, with the same numbered parameters. The new id comes from
/// the `c` part; foreign keys are checked at the end of the statement, when the customer
/// row is there.
const NEW_CUSTOMER_PG: &str = "\
WITH c AS (\
  INSERT INTO customers (code, customer_type, name, name_key, status, uscc, region_code, \
    industry, level, owner_id, department_id, data, created_by, created_at, updated_at, \
    row_version, created_month) \
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, 1, $15) \
  RETURNING id), \
r AS (INSERT INTO code_registry (code, customer_id, rule_key, rule_version, scope, seq, \
    manual, status, redirect_to, issued_at, issued_by, reason) \
  SELECT $1, c.id, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25 FROM c), \
b AS (INSERT INTO customer_blind_index (customer_id, kind, hash) \
  SELECT c.id, j->>0, j->>1 FROM c, json_array_elements($26::json) j), \
t AS (INSERT INTO customer_tags (customer_id, tag) \
  SELECT c.id, j->>0 FROM c, json_array_elements($27::json) j), \
g AS (INSERT INTO customer_name_grams (customer_id, gram) \
  SELECT c.id, j->>0 FROM c, json_array_elements($28::json) j), \
f AS (INSERT INTO customer_field_values (customer_id, key, value) \
  SELECT c.id, j->>0, j->>1 FROM c, json_array_elements($29::json) j), \
m AS (INSERT INTO customer_match_keys (key_hash, customer_id) \
  SELECT j.v::bigint, c.id FROM c, json_array_elements_text($30::json) AS j(v)), \
h AS (INSERT INTO customer_history (customer_id, row_version, at, actor_id, actor_name, \
    action, reason, changes, snapshot) \
  SELECT c.id, $31, $32, $33, $34, $35, $36, $37, $38 FROM c), \
a AS (INSERT INTO audit_log (seq, at, actor_id, actor_name, source, action, target_type, \
    target_id, before_json, after_json, reason, request_id, ip, prev_hash, hash, key_id) \
  VALUES ($39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49, $50, $51, $52, $53, $54)), \
head AS (UPDATE audit_head SET seq = $39, hash = $53 WHERE id = 1) \
SELECT id FROM c";

/// Sort orders of the customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    Id,
    Code,
    Name,
    CreatedAt,
    UpdatedAt,
}

impl CustomerSort {
    fn column(self) -> &'static str {
        match self {
            CustomerSort::Id => "id",
            CustomerSort::Code => "code",
            CustomerSort::Name => "name",
            CustomerSort::CreatedAt => "created_at",
            CustomerSort::UpdatedAt => "updated_at",
        }
    }

    pub fn is_text(self) -> bool {
        matches!(self, CustomerSort::Code | CustomerSort::Name)
    }
}

/// A bound value of a dynamically built query.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Int(i64),
    Text(String),
}

/// Which customers a caller may see.
#[derive(Debug, Clone, Default)]
pub enum ScopeFilter {
    #[default]
    All,
    /// Owned by this user.
    Own(i64),
    /// Owned by this user or owned within these departments.
    Departments(i64, Vec<i64>),
}

/// Filters of the customer list; every present filter must hold.
#[derive(Debug, Clone)]
pub struct CustomerFilter {
    pub scope: ScopeFilter,
    /// Code prefix.
    pub code: Option<String>,
    /// Substring of the name (already normalised); `name_grams` narrows candidates first.
    pub name_contains: Option<String>,
    pub name_grams: Vec<String>,
    /// Only these ids (fuzzy-search candidates).
    pub ids: Option<Vec<i64>>,
    pub customer_type: Option<String>,
    pub region_prefix: Option<String>,
    /// Any of these industry codes (a section expands to its divisions).
    pub industries: Vec<String>,
    pub status: Option<String>,
    /// Leave out archived customers (归档: readable only through an approved retrieval).
    pub hide_archived: bool,
    pub level: Option<String>,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    pub tag: Option<String>,
    pub custom: Vec<(String, String)>,
    /// (kind, hash) blind-index matches.
    pub blind: Vec<(String, String)>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub updated_from: Option<i64>,
    pub updated_to: Option<i64>,
    pub sort: CustomerSort,
    pub desc: bool,
    /// Keyset cursor: the sort value and id of the last row of the previous page.
    pub after: Option<(SqlValue, i64)>,
    pub limit: i64,
}

impl Default for CustomerFilter {
    fn default() -> Self {
        CustomerFilter {
            scope: ScopeFilter::All,
            code: None,
            name_contains: None,
            name_grams: Vec::new(),
            ids: None,
            customer_type: None,
            region_prefix: None,
            industries: Vec::new(),
            status: None,
            hide_archived: false,
            level: None,
            owner_id: None,
            department_id: None,
            tag: None,
            custom: Vec::new(),
            blind: Vec::new(),
            created_from: None,
            created_to: None,
            updated_from: None,
            updated_to: None,
            sort: CustomerSort::Id,
            desc: false,
            after: None,
            limit: 50,
        }
    }
}

/// `LIKE` pattern text with `%`, `_` and `\` escaped (used with `ESCAPE '\'`).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The smallest string greater than every string starting with `prefix` (for range scans
/// that both backends serve from an index).
fn prefix_upper(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

struct Where {
    clauses: Vec<String>,
    binds: Vec<SqlValue>,
}

impl Where {
    fn bind(&mut self, v: SqlValue) -> String {
        self.binds.push(v);
        format!("${}", self.binds.len())
    }

    fn eq_text(&mut self, col: &str, v: &Option<String>) {
        if let Some(v) = v {
            let p = self.bind(SqlValue::Text(v.clone()));
            self.clauses.push(format!("{col} = {p}"));
        }
    }

    fn prefix(&mut self, col: &str, prefix: &str) {
        let lo = self.bind(SqlValue::Text(prefix.to_string()));
        match prefix_upper(prefix) {
            Some(hi) => {
                let hi = self.bind(SqlValue::Text(hi));
                self.clauses.push(format!("{col} >= {lo} AND {col} < {hi}"));
            }
            None => self.clauses.push(format!("{col} >= {lo}")),
        }
    }
}

fn scope_clause(w: &mut Where, scope: &ScopeFilter) {
    match scope {
        ScopeFilter::All => {}
        ScopeFilter::Own(user) => {
            let p = w.bind(SqlValue::Int(*user));
            w.clauses.push(format!("owner_id = {p}"));
        }
        ScopeFilter::Departments(user, deps) => {
            let p = w.bind(SqlValue::Int(*user));
            if deps.is_empty() {
                w.clauses.push(format!("owner_id = {p}"));
            } else {
                w.clauses.push(format!(
                    "(owner_id = {p} OR department_id IN ({}))",
                    join_ids(deps)
                ));
            }
        }
    }
}

fn build_where(f: &CustomerFilter, with_cursor: bool, backend: Backend) -> Where {
    let mut w = Where {
        clauses: Vec::new(),
        binds: Vec::new(),
    };
    scope_clause(&mut w, &f.scope);
    if let Some(code) = &f.code {
        w.prefix("code", code);
    }
    if !f.name_grams.is_empty() {
        let mut ps = Vec::new();
        for g in &f.name_grams {
            ps.push(w.bind(SqlValue::Text(g.clone())));
        }
        w.clauses.push(format!(
            "id IN (SELECT customer_id FROM {} AS g WHERE gram IN ({}) \
             GROUP BY customer_id HAVING COUNT(*) = {})",
            NAME_GRAMS.rows(backend),
            ps.join(", "),
            f.name_grams.len()
        ));
    }
    if let Some(n) = &f.name_contains {
        let p = w.bind(SqlValue::Text(format!("%{}%", like_escape(n))));
        w.clauses.push(format!("name LIKE {p} ESCAPE '\\'"));
    }
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            w.clauses.push("1 = 0".into());
        } else {
            w.clauses.push(format!("id IN ({})", join_ids(ids)));
        }
    }
    w.eq_text("customer_type", &f.customer_type);
    if let Some(r) = &f.region_prefix {
        w.prefix("region_code", r);
    }
    if !f.industries.is_empty() {
        let mut ps = Vec::new();
        for i in &f.industries {
            ps.push(w.bind(SqlValue::Text(i.clone())));
        }
        w.clauses.push(format!("industry IN ({})", ps.join(", ")));
    }
    w.eq_text("status", &f.status);
    if f.hide_archived {
        w.clauses.push("status <> 'archived'".into());
    }
    w.eq_text("level", &f.level);
    if let Some(o) = f.owner_id {
        let p = w.bind(SqlValue::Int(o));
        w.clauses.push(format!("owner_id = {p}"));
    }
    if let Some(d) = f.department_id {
        let p = w.bind(SqlValue::Int(d));
        w.clauses.push(format!("department_id = {p}"));
    }
    if let Some(t) = &f.tag {
        let p = w.bind(SqlValue::Text(t.clone()));
        w.clauses.push(format!(
            "id IN (SELECT customer_id FROM customer_tags WHERE tag = {p})"
        ));
    }
    for (k, v) in &f.custom {
        let pk = w.bind(SqlValue::Text(k.clone()));
        let pv = w.bind(SqlValue::Text(v.clone()));
        w.clauses.push(format!(
            "id IN (SELECT customer_id FROM customer_field_values WHERE key = {pk} AND value = {pv})"
        ));
    }
    for (k, h) in &f.blind {
        let pk = w.bind(SqlValue::Text(k.clone()));
        let ph = w.bind(SqlValue::Text(h.clone()));
        w.clauses.push(format!(
            "id IN (SELECT customer_id FROM {} AS bi WHERE kind = {pk} AND hash = {ph})",
            BLIND_INDEX.rows(backend)
        ));
    }
    for (col, op, v) in [
        ("created_at", ">=", f.created_from),
        ("created_at", "<", f.created_to),
        ("updated_at", ">=", f.updated_from),
        ("updated_at", "<", f.updated_to),
    ] {
        if let Some(v) = v {
            let p = w.bind(SqlValue::Int(v));
            w.clauses.push(format!("{col} {op} {p}"));
        }
    }
    if with_cursor {
        if let Some((value, id)) = &f.after {
            let col = f.sort.column();
            let op = if f.desc { "<" } else { ">" };
            if f.sort == CustomerSort::Id {
                let p = w.bind(SqlValue::Int(*id));
                w.clauses.push(format!("id {op} {p}"));
            } else {
                let pv = w.bind(value.clone());
                let pv2 = w.bind(value.clone());
                let pi = w.bind(SqlValue::Int(*id));
                w.clauses.push(format!(
                    "({col} {op} {pv} OR ({col} = {pv2} AND id {op} {pi}))"
                ));
            }
        }
    }
    w
}

fn where_sql(w: &Where) -> String {
    if w.clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", w.clauses.join(" AND "))
    }
}

/// A count per group value.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupCount {
    pub key: Option<String>,
    pub count: i64,
}

/// A group of the customer statistics.
#[derive(Debug, Clone, Copy)]
pub enum StatGroup {
    Type,
    Province,
    City,
    Industry,
    Status,
    Level,
    Department,
    Month,
}

impl StatGroup {
    fn expr(self) -> &'static str {
        match self {
            StatGroup::Type => "customer_type",
            StatGroup::Province => "substr(region_code, 1, 2)",
            StatGroup::City => "substr(region_code, 1, 4)",
            StatGroup::Industry => "industry",
            StatGroup::Status => "status",
            StatGroup::Level => "level",
            StatGroup::Department => "CAST(department_id AS TEXT)",
            StatGroup::Month => "created_month",
        }
    }
}

/// A cross-reference row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct XrefRow {
    pub customer_id: i64,
    pub system: String,
    pub source_id: String,
    pub created_at: i64,
    pub created_by: Option<i64>,
}

/// An admin-defined field (JSON definition).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FieldDefinitionRow {
    pub key: String,
    pub definition: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Tx {
    pub async fn insert_customer_history(&mut self, h: &HistoryRow) -> StoreResult<i64> {
        let sql = "INSERT INTO customer_history (customer_id, row_version, at, actor_id, \
                   actor_name, action, reason, changes, snapshot) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(h.customer_id)
            .bind(h.row_version)
            .bind(h.at)
            .bind(h.actor_id)
            .bind(&h.actor_name)
            .bind(&h.action)
            .bind(&h.reason)
            .bind(&h.changes)
            .bind(&h.snapshot)
            .fetch_one(c)
            .await)?)
    }

    /// History of a customer, oldest first.
    pub async fn customer_history(&mut self, customer_id: i64) -> StoreResult<Vec<HistoryRow>> {
        let sql = format!(
            "SELECT {HISTORY_COLS} FROM customer_history WHERE customer_id = $1 ORDER BY id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, HistoryRow>(&sql)
            .bind(customer_id)
            .fetch_all(c)
            .await)?)
    }

    /// The last change at or before `at` (microseconds).
    pub async fn customer_history_as_of(
        &mut self,
        customer_id: i64,
        at: i64,
    ) -> StoreResult<Option<HistoryRow>> {
        let sql = format!(
            "SELECT {HISTORY_COLS} FROM customer_history WHERE customer_id = $1 AND at <= $2 \
             ORDER BY at DESC, id DESC LIMIT 1"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, HistoryRow>(&sql)
            .bind(customer_id)
            .bind(at)
            .fetch_optional(c)
            .await)?)
    }

    /// Replace the derived lookup rows of a customer (`fresh`: a new customer, nothing
    /// to delete). Each table gets one multi-row insert: fewer round trips per write.
    pub async fn replace_customer_indexes(
        &mut self,
        customer_id: i64,
        ix: &CustomerIndexes,
        fresh: bool,
    ) -> StoreResult<()> {
        self.flush_lookups().await?;
        if !fresh {
            self.delete_lookup_rows(BLIND_INDEX, customer_id).await?;
            self.delete_lookup_rows(NAME_GRAMS, customer_id).await?;
            for table in ["customer_tags", "customer_field_values"] {
                let sql = format!("DELETE FROM {table} WHERE customer_id = $1");
                on_tx!(self, |c| sqlx::query(&sql)
                    .bind(customer_id)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
            }
        }
        let IndexLists {
            blind,
            tags,
            grams,
            fields,
        } = IndexLists::of(ix);
        self.insert_rows(
            "customer_blind_index (customer_id, kind, hash)",
            customer_id,
            &blind,
        )
        .await?;
        self.insert_rows("customer_tags (customer_id, tag)", customer_id, &tags)
            .await?;
        self.insert_rows(
            "customer_name_grams (customer_id, gram)",
            customer_id,
            &grams,
        )
        .await?;
        self.insert_rows(
            "customer_field_values (customer_id, key, value)",
            customer_id,
            &fields,
        )
        .await?;
        self.replace_match_keys(customer_id, &ix.match_keys, fresh)
            .await?;
        Ok(())
    }

    /// Write a new customer after its code was drawn — the row, the code's registry
    /// entry, the search and match indexes, the first history entry and the audit entry —
    /// and return its id. One query on either backend (a multi-statement script on
    /// SQLite, one statement of data-modifying CTEs on PostgreSQL), plus a read of the
    /// audit head when the transaction does not hold it yet. The caller's transaction (or
    /// savepoint) makes it all-or-nothing; a code or identifier already taken is
    /// `StoreError::Conflict`.
    pub async fn insert_new_customer(&mut self, w: NewCustomerWrite<'_>) -> StoreResult<i64> {
        let crate::audit::ChainPlace {
            seq,
            prev_hash,
            hash,
            key_id,
        } = self.advance_audit_head(w.audit).await?;
        self.cache.free_codes.remove(&w.row.code);
        let lists = IndexLists::of(w.indexes);
        let (c, h, a) = (w.row, w.history, w.audit);
        let mut match_keys = w.indexes.match_keys.clone();
        match_keys.sort_unstable();
        match_keys.dedup();
        // The 54 parameters both scripts share (owned: a write sent ahead outlives `w`).
        macro_rules! bound {
            ($sql:expr, $blind:expr, $grams:expr, $keys:expr) => {
                sqlx::query($sql)
                    .bind(c.code.clone()) // $1
                    .bind(c.customer_type.clone())
                    .bind(c.name.clone())
                    .bind(c.name_key.clone())
                    .bind(c.status.clone()) // $5
                    .bind(c.uscc.clone())
                    .bind(c.region_code.clone())
                    .bind(c.industry.clone())
                    .bind(c.level.clone())
                    .bind(c.owner_id) // $10
                    .bind(c.department_id)
                    .bind(c.data.clone())
                    .bind(c.created_by)
                    .bind(c.created_at)
                    .bind(w.created_month.to_string()) // $15
                    .bind(w.code.rule_key.clone())
                    .bind(w.code.rule_version)
                    .bind(w.code.scope.clone())
                    .bind(w.code.seq)
                    .bind(w.code.manual) // $20
                    .bind(w.code.status.clone())
                    .bind(w.code.redirect_to.clone())
                    .bind(w.code.issued_at)
                    .bind(w.code.issued_by)
                    .bind(w.code.reason.clone()) // $25
                    .bind($blind)
                    .bind(json_list(&lists.tags))
                    .bind($grams)
                    .bind(json_list(&lists.fields))
                    .bind($keys) // $30
                    .bind(h.row_version)
                    .bind(h.at)
                    .bind(h.actor_id)
                    .bind(h.actor_name.clone())
                    .bind(h.action.clone()) // $35
                    .bind(h.reason.clone())
                    .bind(h.changes.clone())
                    .bind(h.snapshot.clone())
                    .bind(seq)
                    .bind(a.at) // $40
                    .bind(a.actor_id)
                    .bind(a.actor_name.clone())
                    .bind(a.source.clone())
                    .bind(a.action.clone())
                    .bind(a.target_type.clone()) // $45
                    .bind(a.target_id.clone())
                    .bind(a.before.clone())
                    .bind(a.after.clone())
                    .bind(a.reason.clone())
                    .bind(a.request_id.clone()) // $50
                    .bind(a.ip.clone())
                    .bind(prev_hash.clone())
                    .bind(hash.clone())
                    .bind(key_id.clone()) // $54
            };
        }
        let id = match &mut self.conn {
            TxConn::Pg(t) => {
                let q = bound!(
                    NEW_CUSTOMER_PG,
                    json_list(&lists.blind),
                    json_list(&lists.grams),
                    json_list(&match_keys)
                );
                q.fetch_one(&mut **t).await?.try_get::<i64, _>(0)?
            }
            TxConn::Sqlite(_) | TxConn::Lent => {
                // Nothing this script writes can conflict: the code was checked free in
                // this transaction, the id is the next one, and only this transaction
                // writes. So it is sent ahead, and the caller prepares the next customer
                // while SQLite writes this one.
                let id = self.next_customer_id().await?;
                self.send_behind(|prefix| {
                    bound!(new_customer_sqlite(prefix), "", "", "").bind(id) // $55
                })
                .await?;
                self.cache.next_customer_id = Some(id + 1);
                self.pending
                    .queue(id, &match_keys, &w.indexes.grams, &w.indexes.blind);
                id
            }
        };
        self.audit_head_written(seq, hash);
        if let Some(postings) = &mut self.cache.postings {
            let stamp = crate::duplicates::CustomerStamp::new(id, 1, c.created_at, &c.status);
            postings.created(stamp, &match_keys);
        }
        Ok(id)
    }

    /// SQLite: the id the next customer inserted gets, read once per transaction.
    async fn next_customer_id(&mut self) -> StoreResult<i64> {
        if let Some(id) = self.cache.next_customer_id {
            return Ok(id);
        }
        let id: i64 = on_tx!(self, |c| sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM customers"
        )
        .fetch_one(c)
        .await)?;
        self.cache.next_customer_id = Some(id);
        Ok(id)
    }

    /// `INSERT INTO target VALUES ($1, …), …` with the customer id first in every row.
    async fn insert_rows(
        &mut self,
        target: &str,
        customer_id: i64,
        rows: &[Vec<String>],
    ) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut sql = format!("{} {target} VALUES ", self.insert_lookup_rows());
        let mut n = 1;
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str("($1");
            for _ in row {
                n += 1;
                sql.push_str(&format!(", ${n}"));
            }
            sql.push(')');
        }
        on_tx!(self, |c| {
            let mut q = sqlx::query(&sql).bind(customer_id);
            for row in rows {
                for v in row {
                    q = q.bind(v.clone());
                }
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// A page of customers matching `f`.
    pub async fn search_customers(&mut self, f: &CustomerFilter) -> StoreResult<Vec<CustomerRow>> {
        self.flush_lookups().await?;
        let w = build_where(f, true, self.backend());
        let col = f.sort.column();
        let dir = if f.desc { "DESC" } else { "ASC" };
        let order = if f.sort == CustomerSort::Id {
            format!("id {dir}")
        } else {
            format!("{col} {dir}, id {dir}")
        };
        let limit = f.limit.clamp(1, 1000);
        let sql = match self.backend() {
            Backend::Sqlite => format!(
                "SELECT {CUSTOMER_COLS} FROM customers{} ORDER BY {order} LIMIT {limit}",
                where_sql(&w)
            ),
            // PostgreSQL reads the table row of every index entry its plan visits, even
            // those the sort then drops: a city's thousands of matches for one page.
            // Ranking ids first lets the list index (which includes `id`) answer the
            // filter and the order alone, and only the page's rows are read.
            Backend::Postgres => format!(
                "SELECT {CUSTOMER_COLS} FROM customers WHERE id IN \
                 (SELECT id FROM customers{} ORDER BY {order} LIMIT {limit}) ORDER BY {order}",
                where_sql(&w)
            ),
        };
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, CustomerRow>(&sql);
            for b in &w.binds {
                q = match b {
                    SqlValue::Int(i) => q.bind(*i),
                    SqlValue::Text(t) => q.bind(t.clone()),
                };
            }
            q.fetch_all(c).await
        })?)
    }

    /// How many customers match `f` (the cursor is ignored).
    pub async fn count_matching_customers(&mut self, f: &CustomerFilter) -> StoreResult<i64> {
        self.flush_lookups().await?;
        let w = build_where(f, false, self.backend());
        let sql = format!("SELECT COUNT(*) FROM customers{}", where_sql(&w));
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, i64>(&sql);
            for b in &w.binds {
                q = match b {
                    SqlValue::Int(i) => q.bind(*i),
                    SqlValue::Text(t) => q.bind(t.clone()),
                };
            }
            q.fetch_one(c).await
        })?)
    }

    /// Customers sharing name bigrams with the query, most shared first. Each bigram
    /// contributes at most its newest `PER_GRAM` customers, so a frequent bigram (公司,
    /// 北京) cannot turn the lookup into a scan of the whole index; rare bigrams, which
    /// carry the information, are read in full.
    pub async fn name_gram_candidates(
        &mut self,
        grams: &[String],
        limit: i64,
    ) -> StoreResult<Vec<i64>> {
        const PER_GRAM: i64 = 1000;
        if grams.is_empty() {
            return Ok(Vec::new());
        }
        self.flush_lookups().await?;
        let backend = self.backend();
        let parts: Vec<String> = (0..grams.len())
            .map(|i| {
                let newest = NAME_GRAMS.newest(backend, &format!("gram = ${}", i + 2), "$1");
                format!("SELECT customer_id FROM ({newest}) AS g{i}")
            })
            .collect();
        let sql = parts.join(" UNION ALL ");
        let hits: Vec<i64> = on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(PER_GRAM);
            for g in grams {
                q = q.bind(g.clone());
            }
            q.fetch_all(c).await
        })?;
        let mut counts: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
        for id in hits {
            *counts.entry(id).or_default() += 1;
        }
        let mut ranked: Vec<(i64, u32)> = counts.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit.clamp(1, 5000) as usize);
        Ok(ranked.into_iter().map(|r| r.0).collect())
    }

    /// Counts per group over the customers in `scope`.
    pub async fn customer_group_counts(
        &mut self,
        scope: &ScopeFilter,
        group: StatGroup,
    ) -> StoreResult<Vec<GroupCount>> {
        let mut w = Where {
            clauses: Vec::new(),
            binds: Vec::new(),
        };
        scope_clause(&mut w, scope);
        let expr = group.expr();
        let sql = format!(
            "SELECT {expr} AS key, COUNT(*) AS count FROM customers{} GROUP BY {expr} \
             ORDER BY count DESC, key",
            where_sql(&w)
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, GroupCount>(&sql);
            for b in &w.binds {
                q = match b {
                    SqlValue::Int(i) => q.bind(*i),
                    SqlValue::Text(t) => q.bind(t.clone()),
                };
            }
            q.fetch_all(c).await
        })?)
    }

    /// Link (or relink) a customer to a source system's id.
    pub async fn put_xref(&mut self, x: &XrefRow) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "DELETE FROM customer_xrefs WHERE customer_id = $1 AND system = $2"
        )
        .bind(x.customer_id)
        .bind(&x.system)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO customer_xrefs (customer_id, system, source_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(x.customer_id)
        .bind(&x.system)
        .bind(&x.source_id)
        .bind(x.created_at)
        .bind(x.created_by)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_xref(&mut self, customer_id: i64, system: &str) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "DELETE FROM customer_xrefs WHERE customer_id = $1 AND system = $2"
        )
        .bind(customer_id)
        .bind(system)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    pub async fn xrefs_of(&mut self, customer_id: i64) -> StoreResult<Vec<XrefRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, XrefRow>(
            "SELECT customer_id, system, source_id, created_at, created_by FROM customer_xrefs \
             WHERE customer_id = $1 ORDER BY system"
        )
        .bind(customer_id)
        .fetch_all(c)
        .await)?)
    }

    pub async fn xref_by_source(
        &mut self,
        system: &str,
        source_id: &str,
    ) -> StoreResult<Option<XrefRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, XrefRow>(
            "SELECT customer_id, system, source_id, created_at, created_by FROM customer_xrefs \
             WHERE system = $1 AND source_id = $2"
        )
        .bind(system)
        .bind(source_id)
        .fetch_optional(c)
        .await)?)
    }

    pub async fn field_definitions(&mut self) -> StoreResult<Vec<FieldDefinitionRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, FieldDefinitionRow>(
            "SELECT key, definition, created_at, updated_at FROM field_definitions ORDER BY key"
        )
        .fetch_all(c)
        .await)?)
    }

    pub async fn upsert_field_definition(&mut self, f: &FieldDefinitionRow) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO field_definitions (key, definition, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (key) DO UPDATE SET \
             definition = excluded.definition, updated_at = excluded.updated_at"
        )
        .bind(&f.key)
        .bind(&f.definition)
        .bind(f.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

/// Reject a write whose constraint says the pair is taken.
pub fn is_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict { .. })
}
