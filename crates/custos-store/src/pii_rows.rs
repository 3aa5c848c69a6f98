//! Rows holding encrypted personal data (`pii1:<key id>:…` values, whole or inside JSON),
//! as the re-keying after a PII key rotation walks them: in key order from a cursor, a
//! batch at a time, locked for the transaction that rewrites them.

use sqlx::Row;

use crate::{on_tx, Backend, StoreResult, Tx};

/// A table with columns that may hold encrypted values.
#[derive(Debug, Clone, Copy)]
pub struct PiiColumns {
    pub table: &'static str,
    /// The primary key (integer columns), in order.
    pub key: &'static [&'static str],
    pub cols: &'static [&'static str],
    /// Walk every row, not only those holding a value under an old key: a customer's
    /// match keys and blind index are keyed even when it holds no encrypted value.
    pub every_row: bool,
}

/// Every place encrypted values are kept, customers first.
pub const PII_COLUMNS: &[PiiColumns] = &[
    PiiColumns {
        table: "customers",
        key: &["id"],
        cols: &["data"],
        every_row: true,
    },
    PiiColumns {
        table: "customer_history",
        key: &["id"],
        cols: &["snapshot"],
        every_row: false,
    },
    PiiColumns {
        table: "customer_merges",
        key: &["id"],
        cols: &["before"],
        every_row: false,
    },
    PiiColumns {
        table: "applications",
        key: &["id"],
        cols: &["payload", "duplicates", "result"],
        every_row: false,
    },
    PiiColumns {
        table: "customer_activities",
        key: &["id"],
        cols: &["body"],
        every_row: false,
    },
    PiiColumns {
        table: "import_rows",
        key: &["job_id", "row_no"],
        cols: &["cells", "detail"],
        every_row: false,
    },
    // Appended last: a re-keying under way keeps its place (it stores a table index).
    PiiColumns {
        table: "source_queue",
        key: &["id"],
        cols: &["payload"],
        every_row: false,
    },
    // Webhook signing secrets: sealed because the server needs them plain to sign.
    PiiColumns {
        table: "webhooks",
        key: &["id"],
        cols: &["secret"],
        every_row: false,
    },
    // Receiver URLs and signing secrets of notification channels.
    PiiColumns {
        table: "notification_channels",
        key: &["id"],
        cols: &["url_sealed", "secret_sealed"],
        every_row: false,
    },
];

/// One row: its key and its columns (in [`PiiColumns::cols`] order).
#[derive(Debug, Clone)]
pub struct PiiRow {
    pub key: Vec<i64>,
    pub values: Vec<Option<String>>,
}

/// `%pii1:<id>:%`: a value under key `id` anywhere in a column.
fn pattern(key_id: &str) -> String {
    format!("%pii1:{key_id}:%")
}

impl PiiColumns {
    /// `(k1, k2) > ($1, $2)` with placeholders from `first`.
    fn after_clause(&self, first: usize) -> String {
        let cols = self.key.join(", ");
        let ps: Vec<String> = (0..self.key.len())
            .map(|i| format!("${}", first + i))
            .collect();
        if self.key.len() == 1 {
            format!("{cols} > {}", ps[0])
        } else {
            format!("({cols}) > ({})", ps.join(", "))
        }
    }

    /// `(c1 LIKE $n OR c1 LIKE $n+1 … OR c2 LIKE $n …)`: `ids` patterns, bound once
    /// from `first`, each tried on every column.
    fn under_clause(&self, first: usize, ids: usize) -> String {
        let mut parts = Vec::new();
        for c in self.cols {
            for i in 0..ids {
                parts.push(format!("{c} LIKE ${}", first + i));
            }
        }
        format!("({})", parts.join(" OR "))
    }
}

impl Tx {
    /// Up to `limit` rows of `t` after the key `after` (empty: from the start), in key
    /// order, that hold a value under one of `old_ids` (every row when `t.every_row`);
    /// locked until the transaction ends (PostgreSQL; a SQLite writer is alone).
    pub async fn pii_rows_after(
        &mut self,
        t: &PiiColumns,
        after: &[i64],
        old_ids: &[String],
        limit: i64,
    ) -> StoreResult<Vec<PiiRow>> {
        let mut clauses = Vec::new();
        let mut next = 1;
        if !after.is_empty() {
            clauses.push(t.after_clause(next));
            next += t.key.len();
        }
        let filtered = !t.every_row && !old_ids.is_empty();
        if filtered {
            clauses.push(t.under_clause(next, old_ids.len()));
            next += old_ids.len();
        }
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT {k}, {c} FROM {t} {w} ORDER BY {k} LIMIT ${next}{lock}",
            k = t.key.join(", "),
            c = t.cols.join(", "),
            t = t.table,
            w = match clauses.is_empty() {
                true => String::new(),
                false => format!("WHERE {}", clauses.join(" AND ")),
            },
        );
        let patterns: Vec<String> = old_ids.iter().map(|id| pattern(id)).collect();
        let (nk, nc) = (t.key.len(), t.cols.len());
        let rows = on_tx!(self, |c| {
            let mut q = sqlx::query(&sql);
            for v in after {
                q = q.bind(*v);
            }
            if filtered {
                for p in &patterns {
                    q = q.bind(p.clone());
                }
            }
            q.bind(limit).fetch_all(c).await.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(PiiRow {
                            key: (0..nk).map(|i| r.try_get(i)).collect::<Result<_, _>>()?,
                            values: (nk..nk + nc)
                                .map(|i| r.try_get(i))
                                .collect::<Result<_, _>>()?,
                        })
                    })
                    .collect::<Result<Vec<PiiRow>, sqlx::Error>>()
            })
        })?;
        Ok(rows)
    }

    /// Write back the columns of `row` (nothing else of the row changes: no version,
    /// no time stamp — its content is the same, only encrypted under another key).
    pub async fn put_pii_row(&mut self, t: &PiiColumns, row: &PiiRow) -> StoreResult<()> {
        let sets: Vec<String> = t
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let wheres: Vec<String> = t
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ${}", t.cols.len() + i + 1))
            .collect();
        let sql = format!(
            "UPDATE {} SET {} WHERE {}",
            t.table,
            sets.join(", "),
            wheres.join(" AND ")
        );
        on_tx!(self, |c| {
            let mut q = sqlx::query(&sql);
            for v in &row.values {
                q = q.bind(v.clone());
            }
            for k in &row.key {
                q = q.bind(*k);
            }
            q.execute(c).await.map(|_| ())
        })?;
        Ok(())
    }

    /// How many rows of `t` hold a value under key `key_id`.
    pub async fn count_pii_rows_under(&mut self, t: &PiiColumns, key_id: &str) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            t.table,
            t.under_clause(1, 1)
        );
        let p = pattern(key_id);
        Ok(on_tx!(self, |c| {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(p.clone())
                .fetch_one(c)
                .await
        })?)
    }

    /// A setting, locked until the transaction ends (PostgreSQL; a SQLite writer is
    /// alone): the re-keying's cursor, so that two servers never walk the same batch.
    pub async fn setting_for_update(&mut self, key: &str) -> StoreResult<Option<String>> {
        let sql = match self.backend() {
            Backend::Postgres => "SELECT value FROM settings WHERE key = $1 FOR UPDATE",
            Backend::Sqlite => "SELECT value FROM settings WHERE key = $1",
        };
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, String>(sql)
            .bind(key)
            .fetch_optional(c)
            .await)?)
    }
}
