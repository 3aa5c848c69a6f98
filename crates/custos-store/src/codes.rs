//! Code rules, sequence counters and the code registry.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::db::SequenceDraw;
use crate::sql_text::placeholders_for;
use crate::{on_tx, Backend, StoreError, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRuleRow {
    pub id: i64,
    pub key: String,
    pub version: i64,
    pub name: String,
    /// JSON of the applicability condition.
    pub applies_to: String,
    /// JSON array of segments.
    pub segments: String,
    /// `draft`, `published`, `disabled`.
    pub status: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub published_by: Option<i64>,
    pub published_at: Option<i64>,
    pub disabled_at: Option<i64>,
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct CodeRow {
    pub code: String,
    pub customer_id: Option<i64>,
    pub rule_key: Option<String>,
    pub rule_version: Option<i64>,
    pub scope: Option<String>,
    pub seq: Option<i64>,
    pub manual: bool,
    pub status: String,
    pub redirect_to: Option<String>,
    pub issued_at: i64,
    pub issued_by: Option<i64>,
    pub reason: Option<String>,
}

/// Usage of one sequence scope.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScopeUsage {
    pub scope: String,
    pub used: i64,
    pub max_seq: Option<i64>,
}

const RULE_COLS: &str = "id, key, version, name, applies_to, segments, status, created_by, \
    created_at, published_by, published_at, disabled_at";
pub(crate) const CODE_COLS: &str =
    "code, customer_id, rule_key, rule_version, scope, seq, manual, status, \
    redirect_to, issued_at, issued_by, reason";

impl Tx {
    pub async fn insert_code_rule(&mut self, r: &CodeRuleRow) -> StoreResult<i64> {
        let sql = "INSERT INTO code_rules (key, version, name, applies_to, segments, status, \
                   created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&r.key)
            .bind(r.version)
            .bind(&r.name)
            .bind(&r.applies_to)
            .bind(&r.segments)
            .bind(&r.status)
            .bind(r.created_by)
            .bind(r.created_at)
            .fetch_one(c)
            .await)?)
    }

    pub async fn code_rule_versions(&mut self, key: &str) -> StoreResult<Vec<CodeRuleRow>> {
        let sql = format!("SELECT {RULE_COLS} FROM code_rules WHERE key = $1 ORDER BY version");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CodeRuleRow>(&sql)
            .bind(key)
            .fetch_all(c)
            .await)?)
    }

    pub async fn code_rule_version(
        &mut self,
        key: &str,
        version: i64,
    ) -> StoreResult<Option<CodeRuleRow>> {
        let sql = format!("SELECT {RULE_COLS} FROM code_rules WHERE key = $1 AND version = $2");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CodeRuleRow>(&sql)
            .bind(key)
            .bind(version)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn all_code_rules(&mut self) -> StoreResult<Vec<CodeRuleRow>> {
        let sql = format!("SELECT {RULE_COLS} FROM code_rules ORDER BY key, version");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CodeRuleRow>(&sql)
            .fetch_all(c)
            .await)?)
    }

    pub async fn published_code_rules(&mut self) -> StoreResult<Vec<CodeRuleRow>> {
        let sql =
            format!("SELECT {RULE_COLS} FROM code_rules WHERE status = 'published' ORDER BY key");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CodeRuleRow>(&sql)
            .fetch_all(c)
            .await)?)
    }

    /// Remove a draft version (never published, so no code came from it); returns
    /// whether a draft was removed.
    pub async fn delete_code_rule_draft(&mut self, id: i64) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "DELETE FROM code_rules WHERE id = $1 AND status = 'draft'"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Change a rule version's status; `expect` guards against a concurrent change.
    pub async fn set_code_rule_status(
        &mut self,
        id: i64,
        expect: &str,
        status: &str,
        by: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        let sql = "UPDATE code_rules SET status = $3, \
                   published_by = CASE WHEN $3 = 'published' THEN $4 ELSE published_by END, \
                   published_at = CASE WHEN $3 = 'published' THEN $5 ELSE published_at END, \
                   disabled_at = CASE WHEN $3 = 'disabled' THEN $5 ELSE disabled_at END \
                   WHERE id = $1 AND status = $2";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(expect)
            .bind(status)
            .bind(by)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::Busy);
        }
        Ok(())
    }

    /// Draw the next number of a sequence scope, creating the counter at `start`.
    /// The row lock taken by the UPDATE serialises concurrent drawers on PostgreSQL; the
    /// number returns to the pool if the transaction rolls back.
    ///
    /// Only the first draw of a scope in a transaction goes to the database: the row is
    /// then held until the transaction ends (see `WriteCache` in db/cache.rs), so the next
    /// draws count on in memory and the counter is written back once, before the commit
    /// (or before anything in the transaction reads it).
    pub async fn draw_sequence(
        &mut self,
        rule_key: &str,
        scope: &str,
        start: i64,
    ) -> StoreResult<i64> {
        let key = (rule_key.to_string(), scope.to_string());
        if let Some(held) = self.cache.sequences.get_mut(&key) {
            let n = held.next;
            held.next += 1;
            held.dirty = true;
            return Ok(n);
        }
        let update = "UPDATE code_sequences SET next_value = next_value + 1 \
                      WHERE rule_key = $1 AND scope = $2 RETURNING next_value - 1";
        for _ in 0..3 {
            let drawn: Option<i64> = on_tx!(self, |c| sqlx::query_scalar::<_, i64>(update)
                .bind(rule_key)
                .bind(scope)
                .fetch_optional(c)
                .await)?;
            if let Some(n) = drawn {
                self.cache.sequences.insert(
                    key,
                    SequenceDraw {
                        next: n + 1,
                        dirty: false,
                    },
                );
                return Ok(n);
            }
            let insert = "INSERT INTO code_sequences (rule_key, scope, next_value) \
                          VALUES ($1, $2, $3) ON CONFLICT (rule_key, scope) DO NOTHING";
            on_tx!(self, |c| sqlx::query(insert)
                .bind(rule_key)
                .bind(scope)
                .bind(start)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Err(StoreError::Busy)
    }

    /// Write the counters drawn in memory back to their rows.
    pub(crate) async fn write_back_sequences(&mut self) -> StoreResult<()> {
        let dirty: Vec<((String, String), i64)> = self
            .cache
            .sequences
            .iter()
            .filter(|(_, d)| d.dirty)
            .map(|(k, d)| (k.clone(), d.next))
            .collect();
        for ((rule_key, scope), next) in dirty {
            let sql = "UPDATE code_sequences SET next_value = $3 \
                       WHERE rule_key = $1 AND scope = $2";
            on_tx!(self, |c| sqlx::query(sql)
                .bind(&rule_key)
                .bind(&scope)
                .bind(next)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            if let Some(d) = self.cache.sequences.get_mut(&(rule_key, scope)) {
                d.dirty = false;
            }
        }
        Ok(())
    }

    /// Peek at the next number without drawing it (previews).
    pub async fn peek_sequence(&mut self, rule_key: &str, scope: &str) -> StoreResult<Option<i64>> {
        self.write_back_sequences().await?;
        let sql = "SELECT next_value FROM code_sequences WHERE rule_key = $1 AND scope = $2";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(rule_key)
            .bind(scope)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn insert_code(&mut self, r: &CodeRow) -> StoreResult<()> {
        self.write_code(r, "").await.map(|_| ())
    }

    /// Insert a registry row; `on_conflict` is empty or an `ON CONFLICT` clause. Returns
    /// the rows written.
    pub(crate) async fn write_code(&mut self, r: &CodeRow, on_conflict: &str) -> StoreResult<u64> {
        self.cache.free_codes.remove(&r.code);
        static VALUES: OnceLock<String> = OnceLock::new();
        let values = VALUES.get_or_init(|| placeholders_for(CODE_COLS));
        let sql = format!("INSERT INTO code_registry ({CODE_COLS}) VALUES ({values}){on_conflict}");
        Ok(on_tx!(self, |c| sqlx::query(&sql)
            .bind(&r.code)
            .bind(r.customer_id)
            .bind(&r.rule_key)
            .bind(r.rule_version)
            .bind(&r.scope)
            .bind(r.seq)
            .bind(r.manual)
            .bind(&r.status)
            .bind(&r.redirect_to)
            .bind(r.issued_at)
            .bind(r.issued_by)
            .bind(&r.reason)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    pub async fn code(&mut self, code: &str) -> StoreResult<Option<CodeRow>> {
        let sql = format!("SELECT {CODE_COLS} FROM code_registry WHERE code = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CodeRow>(&sql)
            .bind(code)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn code_exists(&mut self, code: &str) -> StoreResult<bool> {
        self.code_exists_ahead(code, &[]).await
    }

    /// Whether a look-ahead in this transaction found `code` free; if so the answer is
    /// used up (the caller is about to issue the code or give up on it).
    pub fn take_known_free(&mut self, code: &str) -> bool {
        self.cache.free_codes.remove(code)
    }

    /// [`Tx::code_exists`], also looking up `ahead` — codes the caller expects to ask
    /// about next in this transaction, such as the next numbers of a sequence — in the
    /// same query. Those found free are remembered for [`Tx::take_known_free`].
    pub async fn code_exists_ahead(&mut self, code: &str, ahead: &[String]) -> StoreResult<bool> {
        if self.take_known_free(code) {
            return Ok(false);
        }
        if ahead.is_empty() {
            let sql = "SELECT COUNT(*) FROM code_registry WHERE code = $1";
            let n: i64 = on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
                .bind(code)
                .fetch_one(c)
                .await)?;
            return Ok(n > 0);
        }
        let mut all: Vec<&str> = Vec::with_capacity(ahead.len() + 1);
        all.push(code);
        all.extend(ahead.iter().map(String::as_str));
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT code FROM code_registry WHERE code IN (SELECT value FROM json_each($1))"
            }
            Backend::Postgres => {
                "SELECT code FROM code_registry \
                 WHERE code IN (SELECT json_array_elements_text($1::json))"
            }
        };
        let list = serde_json::to_string(&all).unwrap_or_else(|_| "[]".into());
        let taken: HashSet<String> = on_tx!(self, |c| sqlx::query_scalar::<_, String>(sql)
            .bind(&list)
            .fetch_all(c)
            .await)?
        .into_iter()
        .collect();
        for a in ahead {
            if a != code && !taken.contains(a) {
                self.cache.free_codes.insert(a.clone());
            }
        }
        Ok(taken.contains(code))
    }

    /// Link an issued code to its customer and set its status.
    pub async fn update_code(
        &mut self,
        code: &str,
        customer_id: Option<i64>,
        status: &str,
        redirect_to: Option<&str>,
    ) -> StoreResult<()> {
        let sql = "UPDATE code_registry SET customer_id = $2, status = $3, redirect_to = $4 \
                   WHERE code = $1";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(code)
            .bind(customer_id)
            .bind(status)
            .bind(redirect_to)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Codes used per scope of a rule (issued and manual alike).
    pub async fn scope_usage(&mut self, rule_key: &str) -> StoreResult<Vec<ScopeUsage>> {
        let sql = "SELECT scope, COUNT(*) AS used, MAX(seq) AS max_seq FROM code_registry \
                   WHERE rule_key = $1 AND scope IS NOT NULL GROUP BY scope ORDER BY scope";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ScopeUsage>(sql)
            .bind(rule_key)
            .fetch_all(c)
            .await)?)
    }

    /// Codes of a rule and scope, in sequence order (tests and audits of gaplessness).
    pub async fn scope_sequences(&mut self, rule_key: &str, scope: &str) -> StoreResult<Vec<i64>> {
        let sql = "SELECT seq FROM code_registry WHERE rule_key = $1 AND scope = $2 \
                   AND seq IS NOT NULL ORDER BY seq";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(rule_key)
            .bind(scope)
            .fetch_all(c)
            .await)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated list is the text the statement had when numbered by hand.
    #[test]
    fn code_insert_has_one_parameter_per_column() {
        assert_eq!(
            placeholders_for(CODE_COLS),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12"
        );
    }
}

/// Codes of one rule issued in one period (see [`Tx::codes_issued_per_period`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PeriodIssues {
    /// `None` for codes assigned by hand outside any rule.
    pub rule_key: Option<String>,
    /// Index of the period in the bounds given.
    pub period: i64,
    pub issued: i64,
}

/// Codes of one rule in one registry status.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusCount {
    pub rule_key: Option<String>,
    pub status: String,
    pub count: i64,
}

impl Tx {
    /// Codes issued per rule in each period `[bounds[i], bounds[i + 1])` (microseconds);
    /// one range read over the issue-time index, however many periods.
    pub async fn codes_issued_per_period(
        &mut self,
        bounds: &[i64],
    ) -> StoreResult<Vec<PeriodIssues>> {
        if bounds.len() < 2 {
            return Ok(Vec::new());
        }
        let last = bounds.len() - 1;
        let arms: String = (1..last)
            .map(|i| format!("WHEN issued_at < ${} THEN {} ", i + 1, i - 1))
            .collect();
        let period = match last {
            1 => "0".to_string(),
            _ => format!("CASE {arms}ELSE {} END", last - 1),
        };
        let sql = format!(
            "SELECT rule_key, CAST({period} AS BIGINT) AS period, \
             COUNT(*) AS issued FROM code_registry \
             WHERE issued_at >= $1 AND issued_at < ${} \
             GROUP BY rule_key, period ORDER BY rule_key, period",
            last + 1
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, PeriodIssues>(&sql);
            for b in bounds {
                q = q.bind(*b);
            }
            q.fetch_all(c).await
        })?)
    }

    /// Codes per rule and registry status, every code ever issued.
    pub async fn code_status_counts(&mut self) -> StoreResult<Vec<StatusCount>> {
        let sql = "SELECT rule_key, status, COUNT(*) AS count FROM code_registry \
                   GROUP BY rule_key, status ORDER BY rule_key, status";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, StatusCount>(sql)
            .fetch_all(c)
            .await)?)
    }
}
