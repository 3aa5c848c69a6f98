//! The customer list: filters, sort orders, search, counts and statistics.

use crate::customers::CUSTOMER_COLS;
use crate::lookups::{BLIND_INDEX, NAME_GRAMS};
use crate::org::join_ids;
use crate::{on_tx, Backend, CustomerRow, StoreResult, Tx};

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

/// Bind every value of a dynamically built query, in order (one expansion per backend
/// inside `on_tx!`).
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut q = $query;
        for b in $binds {
            q = match b {
                SqlValue::Int(i) => q.bind(*i),
                SqlValue::Text(t) => q.bind(t.clone()),
            };
        }
        q
    }};
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

impl ScopeFilter {
    /// Whether a record owned by `owner_id` in `department_id` lies inside (the rule the
    /// SQL of the customer list applies, for records read one by one).
    pub fn admits(&self, owner_id: Option<i64>, department_id: Option<i64>) -> bool {
        match self {
            ScopeFilter::All => true,
            ScopeFilter::Own(me) => owner_id == Some(*me),
            ScopeFilter::Departments(me, departments) => {
                owner_id == Some(*me) || department_id.is_some_and(|d| departments.contains(&d))
            }
        }
    }
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
    /// (kind, hashes) blind-index matches: a customer matches when it has an entry of
    /// the kind with any of the hashes (one per key of the PII key ring).
    pub blind: Vec<(String, Vec<String>)>,
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

/// The LIKE pattern of a normalised name part: names are stored as typed, so a bracket or
/// other punctuation, normalised to ASCII in the query, may be its full-width twin in the
/// name (（上海） for (上海)): each matches any one character there. The name grams have
/// narrowed the rows to those holding the same letters and digits already. `%`, `_`
/// and `\` are punctuation too: no escaping is left to do.
fn name_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_punctuation() {
            out.push('_');
        } else {
            out.push(c);
        }
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
        let p = w.bind(SqlValue::Text(format!("%{}%", name_pattern(n))));
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
    for (k, hs) in &f.blind {
        let pk = w.bind(SqlValue::Text(k.clone()));
        let ph: Vec<String> = hs
            .iter()
            .map(|h| w.bind(SqlValue::Text(h.clone())))
            .collect();
        w.clauses.push(format!(
            "id IN (SELECT customer_id FROM {} AS bi WHERE kind = {pk} AND hash IN ({}))",
            BLIND_INDEX.rows(backend),
            ph.join(", ")
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
    /// The name of this grouping in `customer_tallies`.
    fn tally(self) -> &'static str {
        match self {
            StatGroup::Type => "type",
            StatGroup::Province => "province",
            StatGroup::City => "city",
            StatGroup::Industry => "industry",
            StatGroup::Status => "status",
            StatGroup::Level => "level",
            StatGroup::Department => "department",
            StatGroup::Month => "month",
        }
    }

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

impl Tx {
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
            let q = bind_all!(sqlx::query_as::<_, CustomerRow>(&sql), &w.binds);
            q.fetch_all(c).await
        })?)
    }

    /// How many customers match `f` (the cursor is ignored).
    pub async fn count_matching_customers(&mut self, f: &CustomerFilter) -> StoreResult<i64> {
        self.flush_lookups().await?;
        let w = build_where(f, false, self.backend());
        let sql = format!("SELECT COUNT(*) FROM customers{}", where_sql(&w));
        Ok(on_tx!(self, |c| {
            let q = bind_all!(sqlx::query_scalar::<_, i64>(&sql), &w.binds);
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

    /// Counts per group over the customers in `scope`. On SQLite they are read from the
    /// tallies its triggers keep with every change; PostgreSQL counts the customers (its
    /// writers run at once, and one row per value would queue them all).
    pub async fn customer_group_counts(
        &mut self,
        scope: &ScopeFilter,
        group: StatGroup,
    ) -> StoreResult<Vec<GroupCount>> {
        if self.backend() == Backend::Sqlite {
            return self.tallied_group_counts(scope, group).await;
        }
        self.counted_group_counts(scope, group).await
    }

    /// Counts per group by reading every customer in `scope`.
    pub async fn counted_group_counts(
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
            let q = bind_all!(sqlx::query_as::<_, GroupCount>(&sql), &w.binds);
            q.fetch_all(c).await
        })?)
    }

    /// Counts per group from the SQLite tallies (see migration `0020_customer_tallies`).
    async fn tallied_group_counts(
        &mut self,
        scope: &ScopeFilter,
        group: StatGroup,
    ) -> StoreResult<Vec<GroupCount>> {
        let mut w = Where {
            clauses: Vec::new(),
            binds: Vec::new(),
        };
        let g = w.bind(SqlValue::Text(group.tally().to_string()));
        w.clauses.push(format!("grp = {g}"));
        match scope {
            ScopeFilter::All => w.clauses.push("owner_id = -1".to_string()),
            // The tallies are split by owner and department exactly as the scope filter
            // reads the customers, so the same rows are counted.
            _ => scope_clause(&mut w, scope),
        }
        let sql = format!(
            "SELECT NULLIF(key, '') AS key, SUM(n) AS count FROM customer_tallies{} \
             GROUP BY key HAVING SUM(n) > 0 ORDER BY count DESC, key",
            where_sql(&w)
        );
        Ok(on_tx!(self, |c| {
            let q = bind_all!(sqlx::query_as::<_, GroupCount>(&sql), &w.binds);
            q.fetch_all(c).await
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::ScopeFilter;

    #[test]
    fn admits_follows_the_scope() {
        assert!(ScopeFilter::All.admits(None, None));
        let own = ScopeFilter::Own(7);
        assert!(own.admits(Some(7), Some(1)));
        assert!(!own.admits(Some(8), Some(1)));
        assert!(!own.admits(None, None));
        let dept = ScopeFilter::Departments(7, vec![1, 2]);
        assert!(dept.admits(Some(7), Some(9)));
        assert!(dept.admits(Some(8), Some(2)));
        assert!(!dept.admits(Some(8), Some(3)));
        assert!(!dept.admits(Some(8), None));
    }
}
