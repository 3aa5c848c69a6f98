//! Data quality (数据质量): the score row of each assessed customer, the rules it fails,
//! the aggregates over them within a data scope, and the daily snapshots.

use crate::customer_master::ScopeFilter;
use crate::sql_text::placeholders_from;
use crate::{on_tx, StoreResult, Tx};

/// The quality of one customer as stored.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct QualityRow {
    pub customer_id: i64,
    pub score: f64,
    pub completeness: f64,
    pub validity: f64,
    pub consistency: f64,
    pub timeliness: f64,
    pub uniqueness: f64,
    /// JSON list of the failing rule keys.
    pub failing: String,
    pub computed_at: i64,
    /// The customer's `row_version` the score was computed from.
    pub customer_version: i64,
}

/// A customer's quality with its assignment, for reads.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QualityListRow {
    pub customer_id: i64,
    pub code: String,
    pub name: String,
    pub customer_type: String,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    pub score: f64,
    pub failing: String,
    pub computed_at: i64,
    pub assignee_id: Option<i64>,
    pub assigned_at: Option<i64>,
}

/// Averages over the customers of a group (all of them when `key` is empty).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct QualityAverages {
    pub key: Option<String>,
    pub customers: i64,
    pub score: f64,
    pub completeness: f64,
    pub validity: f64,
    pub consistency: f64,
    pub timeliness: f64,
    pub uniqueness: f64,
    /// Customers that pass every rule of a dimension, per dimension in the order above.
    pub completeness_pass: i64,
    pub validity_pass: i64,
    pub consistency_pass: i64,
    pub timeliness_pass: i64,
    pub uniqueness_pass: i64,
}

/// One daily snapshot.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QualitySnapshotRow {
    pub day: String,
    pub taken_at: i64,
    pub customers: i64,
    pub average_score: f64,
    pub figures: String,
}

/// Which customers a worklist page shows; every present filter must hold.
#[derive(Debug, Clone, Default)]
pub struct WorklistFilter {
    pub scope: ScopeFilter,
    /// Failing any rule whose key is this or starts with this and a dot.
    pub rule: Option<String>,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    pub customer_type: Option<String>,
    pub assignee_id: Option<i64>,
    /// Keyset cursor: score and id of the last row of the previous page.
    pub after: Option<(f64, i64)>,
    pub limit: i64,
}

// 0.0, not 0: with no rows SQLite keeps the literal's type, and an average is real.
const AVERAGES: &str = "COUNT(*) AS customers, COALESCE(AVG(q.score), 0.0) AS score, \
    COALESCE(AVG(q.completeness), 0.0) AS completeness, COALESCE(AVG(q.validity), 0.0) AS validity, \
    COALESCE(AVG(q.consistency), 0.0) AS consistency, \
    COALESCE(AVG(q.timeliness), 0.0) AS timeliness, COALESCE(AVG(q.uniqueness), 0.0) AS uniqueness, \
    COALESCE(SUM(CASE WHEN q.completeness >= 100 THEN 1 ELSE 0 END), 0) AS completeness_pass, \
    COALESCE(SUM(CASE WHEN q.validity >= 100 THEN 1 ELSE 0 END), 0) AS validity_pass, \
    COALESCE(SUM(CASE WHEN q.consistency >= 100 THEN 1 ELSE 0 END), 0) AS consistency_pass, \
    COALESCE(SUM(CASE WHEN q.timeliness >= 100 THEN 1 ELSE 0 END), 0) AS timeliness_pass, \
    COALESCE(SUM(CASE WHEN q.uniqueness >= 100 THEN 1 ELSE 0 END), 0) AS uniqueness_pass";

/// The SQL condition on `c` (customers) of a data scope; binds from `$first`.
fn scope_sql(scope: &ScopeFilter, first: usize) -> (String, Vec<i64>) {
    match scope {
        ScopeFilter::All => ("1 = 1".into(), vec![]),
        ScopeFilter::Own(u) => (format!("c.owner_id = ${first}"), vec![*u]),
        ScopeFilter::Departments(u, deps) if deps.is_empty() => {
            (format!("c.owner_id = ${first}"), vec![*u])
        }
        ScopeFilter::Departments(u, deps) => {
            let mut binds = vec![*u];
            binds.extend(deps);
            (
                format!(
                    "(c.owner_id = ${first} OR c.department_id IN ({}))",
                    placeholders_from(first + 1, deps.len())
                ),
                binds,
            )
        }
    }
}

impl Tx {
    /// Write the quality of these customers (replacing what was there, keeping the
    /// assignment) and the rules each fails.
    pub async fn put_quality(&mut self, rows: &[QualityRow]) -> StoreResult<()> {
        for chunk in rows.chunks(500) {
            self.put_quality_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn put_quality_chunk(&mut self, rows: &[QualityRow]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = (0..rows.len())
            .map(|i| format!("({})", placeholders_from(i * 10 + 1, 10)))
            .collect();
        // A score computed from an older version of the customer than the stored one
        // is left out (RETURNING names the rows written).
        let sql = format!(
            "INSERT INTO customer_quality (customer_id, score, completeness, validity, \
             consistency, timeliness, uniqueness, failing, computed_at, customer_version) \
             VALUES {} ON CONFLICT (customer_id) DO UPDATE SET score = excluded.score, \
             completeness = excluded.completeness, validity = excluded.validity, \
             consistency = excluded.consistency, timeliness = excluded.timeliness, \
             uniqueness = excluded.uniqueness, failing = excluded.failing, \
             computed_at = excluded.computed_at, customer_version = excluded.customer_version \
             WHERE customer_quality.customer_version <= excluded.customer_version \
             RETURNING customer_id",
            values.join(", ")
        );
        let written: Vec<i64> = on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, i64>(&sql);
            for r in rows {
                q = q
                    .bind(r.customer_id)
                    .bind(r.score)
                    .bind(r.completeness)
                    .bind(r.validity)
                    .bind(r.consistency)
                    .bind(r.timeliness)
                    .bind(r.uniqueness)
                    .bind(r.failing.clone())
                    .bind(r.computed_at)
                    .bind(r.customer_version);
            }
            q.fetch_all(c).await
        })?;
        if written.is_empty() {
            return Ok(());
        }
        self.delete_customer_rows("customer_quality_failures", &written)
            .await?;
        let written: std::collections::HashSet<i64> = written.into_iter().collect();
        let failures: Vec<(String, i64)> = rows
            .iter()
            .filter(|r| written.contains(&r.customer_id))
            .flat_map(|r| {
                let keys: Vec<String> = serde_json::from_str(&r.failing).unwrap_or_default();
                keys.into_iter().map(move |k| (k, r.customer_id))
            })
            .collect();
        for chunk in failures.chunks(1000) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders_from(i * 2 + 1, 2)))
                .collect();
            let sql = format!(
                "INSERT INTO customer_quality_failures (rule_key, customer_id) VALUES {}",
                values.join(", ")
            );
            on_tx!(self, |c| {
                let mut q = sqlx::query(&sql);
                for (k, id) in chunk {
                    q = q.bind(k.clone()).bind(*id);
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// Delete the rows of `table` (a quality table keyed by customer) of customers `ids`.
    async fn delete_customer_rows(&mut self, table: &str, ids: &[i64]) -> StoreResult<()> {
        let sql = format!(
            "DELETE FROM {table} WHERE customer_id IN ({})",
            placeholders_from(1, ids.len())
        );
        on_tx!(self, |c| {
            let mut q = sqlx::query(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Forget the quality of customers no longer assessed (merged, retired, archived).
    pub async fn delete_quality(&mut self, ids: &[i64]) -> StoreResult<()> {
        for chunk in ids.chunks(500) {
            self.delete_customer_rows("customer_quality_failures", chunk)
                .await?;
            self.delete_customer_rows("customer_quality", chunk).await?;
        }
        Ok(())
    }

    /// Forget the quality rows of customers with ids in `(after, upto]` that are not in
    /// `keep` (a full recompute's chunk: customers that left the assessed statuses).
    pub async fn delete_quality_between(
        &mut self,
        after: i64,
        upto: i64,
        keep: &[i64],
    ) -> StoreResult<()> {
        let stale: Vec<i64> = on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT customer_id FROM customer_quality WHERE customer_id > $1 \
             AND customer_id <= $2"
        )
        .bind(after)
        .bind(upto)
        .fetch_all(c)
        .await)?;
        let keep: std::collections::HashSet<i64> = keep.iter().copied().collect();
        let gone: Vec<i64> = stale.into_iter().filter(|id| !keep.contains(id)).collect();
        self.delete_quality(&gone).await
    }

    /// The quality row of a customer.
    pub async fn customer_quality(&mut self, customer_id: i64) -> StoreResult<Option<QualityRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, QualityRow>(
            "SELECT customer_id, score, completeness, validity, consistency, timeliness, \
             uniqueness, failing, computed_at, customer_version FROM customer_quality \
             WHERE customer_id = $1"
        )
        .bind(customer_id)
        .fetch_optional(c)
        .await)?)
    }

    /// Who is to mend a customer, if anyone.
    pub async fn quality_assignee(&mut self, customer_id: i64) -> StoreResult<Option<i64>> {
        let found: Option<Option<i64>> = on_tx!(self, |c| sqlx::query_scalar::<_, Option<i64>>(
            "SELECT assignee_id FROM customer_quality WHERE customer_id = $1"
        )
        .bind(customer_id)
        .fetch_optional(c)
        .await)?;
        Ok(found.flatten())
    }

    /// Of these customers, the ones in an open duplicate group (唯一性).
    pub async fn in_open_duplicate_groups(&mut self, ids: &[i64]) -> StoreResult<Vec<i64>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT DISTINCT m.customer_id FROM duplicate_group_members m \
                 JOIN duplicate_groups g ON g.id = m.group_id \
                 WHERE g.status = 'open' AND m.customer_id IN ({})",
                placeholders_from(1, chunk.len())
            );
            let found: Vec<i64> = on_tx!(self, |c| {
                let mut q = sqlx::query_scalar::<_, i64>(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(c).await
            })?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Customers with ids in `(after, upto]` in an open duplicate group (a recompute's
    /// chunk, read by range instead of a list).
    pub async fn in_open_duplicate_groups_between(
        &mut self,
        after: i64,
        upto: i64,
    ) -> StoreResult<Vec<i64>> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT DISTINCT m.customer_id FROM duplicate_group_members m \
             JOIN duplicate_groups g ON g.id = m.group_id \
             WHERE g.status = 'open' AND m.customer_id > $1 AND m.customer_id <= $2"
        )
        .bind(after)
        .bind(upto)
        .fetch_all(c)
        .await)?)
    }

    /// Averages and pass counts over the assessed customers in a scope, grouped by a
    /// customers column (`owner_id`, `department_id`, `customer_type`) or not at all.
    pub async fn quality_averages(
        &mut self,
        scope: &ScopeFilter,
        group_by: Option<&str>,
    ) -> StoreResult<Vec<QualityAverages>> {
        let (cond, binds) = scope_sql(scope, 1);
        let (key, group) = match group_by {
            Some(col @ ("owner_id" | "department_id" | "customer_type")) => (
                format!("CAST(c.{col} AS TEXT)"),
                format!(" GROUP BY c.{col} ORDER BY c.{col}"),
            ),
            _ => ("NULL".to_string(), String::new()),
        };
        let sql = format!(
            "SELECT {key} AS key, {AVERAGES} FROM customer_quality q \
             JOIN customers c ON c.id = q.customer_id WHERE {cond}{group}"
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, QualityAverages>(&sql);
            for b in &binds {
                q = q.bind(*b);
            }
            q.fetch_all(c).await
        })?)
    }

    /// Customers in a scope failing each rule.
    pub async fn quality_rule_counts(
        &mut self,
        scope: &ScopeFilter,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (cond, binds) = scope_sql(scope, 1);
        let sql = format!(
            "SELECT f.rule_key, COUNT(*) FROM customer_quality_failures f \
             JOIN customers c ON c.id = f.customer_id WHERE {cond} \
             GROUP BY f.rule_key ORDER BY f.rule_key"
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
            for b in &binds {
                q = q.bind(*b);
            }
            q.fetch_all(c).await
        })?)
    }

    /// Customers in a scope failing any of these rules (exact keys).
    pub async fn quality_failing_any(
        &mut self,
        scope: &ScopeFilter,
        rules: &[String],
    ) -> StoreResult<i64> {
        if rules.is_empty() {
            return Ok(0);
        }
        let (cond, binds) = scope_sql(scope, rules.len() + 1);
        let sql = format!(
            "SELECT COUNT(DISTINCT f.customer_id) FROM customer_quality_failures f \
             JOIN customers c ON c.id = f.customer_id \
             WHERE f.rule_key IN ({}) AND {cond}",
            placeholders_from(1, rules.len())
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, i64>(&sql);
            for r in rules {
                q = q.bind(r.clone());
            }
            for b in &binds {
                q = q.bind(*b);
            }
            q.fetch_one(c).await
        })?)
    }

    /// A page of customers failing at least one rule, lowest score first.
    pub async fn quality_worklist(
        &mut self,
        f: &WorklistFilter,
    ) -> StoreResult<Vec<QualityListRow>> {
        let mut binds: Vec<Bind> = Vec::new();
        let mut conds = vec!["q.failing <> '[]'".to_string()];
        let (cond, scope_binds) = scope_sql(&f.scope, 1);
        conds.push(cond);
        binds.extend(scope_binds.into_iter().map(Bind::Int));
        let next = |b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if let Some(rule) = &f.rule {
            let a = next(Bind::Text(rule.clone()), &mut binds);
            let b = next(Bind::Text(format!("{rule}.")), &mut binds);
            let z = next(Bind::Text(format!("{rule}/")), &mut binds);
            conds.push(format!(
                "EXISTS (SELECT 1 FROM customer_quality_failures f WHERE f.customer_id = q.customer_id \
                 AND (f.rule_key = {a} OR (f.rule_key >= {b} AND f.rule_key < {z})))"
            ));
        }
        if let Some(o) = f.owner_id {
            let p = next(Bind::Int(o), &mut binds);
            conds.push(format!("c.owner_id = {p}"));
        }
        if let Some(d) = f.department_id {
            let p = next(Bind::Int(d), &mut binds);
            conds.push(format!("c.department_id = {p}"));
        }
        if let Some(t) = &f.customer_type {
            let p = next(Bind::Text(t.clone()), &mut binds);
            conds.push(format!("c.customer_type = {p}"));
        }
        if let Some(a) = f.assignee_id {
            let p = next(Bind::Int(a), &mut binds);
            conds.push(format!("q.assignee_id = {p}"));
        }
        if let Some((score, id)) = f.after {
            let s = next(Bind::Float(score), &mut binds);
            let i = next(Bind::Int(id), &mut binds);
            conds.push(format!(
                "(q.score > {s} OR (q.score = {s} AND q.customer_id > {i}))"
            ));
        }
        let limit = next(Bind::Int(f.limit), &mut binds);
        let sql = format!(
            "SELECT q.customer_id, c.code, c.name, c.customer_type, c.owner_id, c.department_id, \
             q.score, q.failing, q.computed_at, q.assignee_id, q.assigned_at \
             FROM customer_quality q JOIN customers c ON c.id = q.customer_id \
             WHERE {} ORDER BY q.score, q.customer_id LIMIT {limit}",
            conds.join(" AND ")
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, QualityListRow>(&sql);
            for b in &binds {
                q = match b {
                    Bind::Int(i) => q.bind(*i),
                    Bind::Float(x) => q.bind(*x),
                    Bind::Text(t) => q.bind(t.clone()),
                };
            }
            q.fetch_all(c).await
        })?)
    }

    /// Set who is to mend these customers; returns how many had a quality row.
    pub async fn assign_quality(
        &mut self,
        ids: &[i64],
        assignee_id: i64,
        at: i64,
    ) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE customer_quality SET assignee_id = $1, assigned_at = $2 \
             WHERE customer_id IN ({})",
            placeholders_from(3, ids.len())
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query(&sql).bind(assignee_id).bind(at);
            for id in ids {
                q = q.bind(*id);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?)
    }

    /// Record the day's snapshot unless one exists; true when written.
    pub async fn insert_quality_snapshot(&mut self, s: &QualitySnapshotRow) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "INSERT INTO quality_snapshots (day, taken_at, customers, average_score, figures) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day) DO NOTHING"
        )
        .bind(&s.day)
        .bind(s.taken_at)
        .bind(s.customers)
        .bind(s.average_score)
        .bind(&s.figures)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Snapshots from `from_day` on, oldest first (at most `limit`).
    pub async fn quality_snapshots(
        &mut self,
        from_day: &str,
        limit: i64,
    ) -> StoreResult<Vec<QualitySnapshotRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, QualitySnapshotRow>(
            "SELECT day, taken_at, customers, average_score, figures FROM quality_snapshots \
             WHERE day >= $1 ORDER BY day LIMIT $2"
        )
        .bind(from_day)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// Assessed customers whose timeliness may have changed since scored: scored as
    /// timely but last updated before `cutoff`. At most `limit`, from `after` on.
    pub async fn quality_gone_stale(
        &mut self,
        cutoff: i64,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<i64>> {
        Ok(on_tx!(self, |c| {
            sqlx::query_scalar::<_, i64>(
            "SELECT q.customer_id FROM customer_quality q JOIN customers c ON c.id = q.customer_id \
             WHERE q.timeliness >= 100 AND c.updated_at < $1 AND q.customer_id > $2 \
             ORDER BY q.customer_id LIMIT $3"
        )
        .bind(cutoff)
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await
        })?)
    }
}

enum Bind {
    Int(i64),
    Float(f64),
    Text(String),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testing::TestDb;
    use crate::Backend;

    fn row(version: i64, score: f64, failing: &str) -> QualityRow {
        QualityRow {
            customer_id: 7,
            score,
            failing: failing.into(),
            customer_version: version,
            ..Default::default()
        }
    }

    /// The failing rules stored for customer 7 (no customers row to join).
    async fn failures(tx: &mut Tx) -> Vec<String> {
        crate::on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT rule_key FROM customer_quality_failures WHERE customer_id = 7 ORDER BY 1"
        )
        .fetch_all(c)
        .await)
        .unwrap()
    }

    /// A score computed from an older version of the customer never replaces one computed
    /// from a newer version (a recompute racing a change), nor do its failing rules.
    async fn older_versions_do_not_overwrite(backend: Backend) {
        let Some(t) = TestDb::new(backend).await.unwrap() else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return;
        };
        let mut tx = t.db.begin().await.unwrap();
        tx.put_quality(&[row(3, 80.0, r#"["validity.uscc"]"#)])
            .await
            .unwrap();
        tx.put_quality(&[row(2, 50.0, r#"["timeliness.updated"]"#)])
            .await
            .unwrap();
        let q = tx.customer_quality(7).await.unwrap().unwrap();
        assert_eq!((q.score, q.customer_version), (80.0, 3));
        assert_eq!(failures(&mut tx).await, vec!["validity.uscc".to_string()]);
        // The same version again does replace it, failures included.
        tx.put_quality(&[row(3, 90.0, "[]")]).await.unwrap();
        let q = tx.customer_quality(7).await.unwrap().unwrap();
        assert_eq!(q.score, 90.0);
        assert!(failures(&mut tx).await.is_empty());
        tx.rollback().await.unwrap();
        t.cleanup().await;
    }

    #[tokio::test]
    async fn older_versions_do_not_overwrite_sqlite() {
        older_versions_do_not_overwrite(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn older_versions_do_not_overwrite_postgres() {
        older_versions_do_not_overwrite(Backend::Postgres).await;
    }
}
