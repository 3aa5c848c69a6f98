//! Duplicate check index (blocking-key hashes), the duplicate review queue, merges and
//! customer lineage.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::OnceLock;

use crate::customers::{CustomerRow, CUSTOMER_COLS};
use crate::error::{StoreError, StoreResult};
use crate::lookups::MATCH_KEYS;
use crate::match_postings::{FoldMap, MatchPostings};
use crate::on_tx;
use crate::sql_text::{padded_ids, padded_len, placeholders_from};
use crate::{Backend, Tx, TxConn};

pub use crate::match_postings::CustomerStamp;

/// A group of probable duplicates waiting for (or decided by) a steward.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DuplicateGroupRow {
    pub id: i64,
    pub status: String,
    pub fingerprint: String,
    pub score: f64,
    /// JSON `[[a, b, score], …]` of the pairs that tied the group together.
    pub pairs: String,
    pub scan_id: Option<i64>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<i64>,
    pub decision_reason: Option<String>,
    pub merge_id: Option<i64>,
    /// Where the group was found: `scan` (the queue's scan, `dedupe --database`) or
    /// `import`.
    pub source: String,
    /// The customer type the members share, `mixed` when they differ.
    pub customer_type: Option<String>,
}

const GROUP_COLS: &str = "id, status, fingerprint, score, pairs, scan_id, created_at, \
    decided_at, decided_by, decision_reason, merge_id, source, customer_type";

/// Which groups a page of the review queue holds (every part optional).
#[derive(Debug, Clone, Default)]
pub struct GroupFilter<'a> {
    pub status: Option<&'a str>,
    pub source: Option<&'a str>,
    pub customer_type: Option<&'a str>,
    /// Best pair score at least this.
    pub min_score: Option<f64>,
    /// Best pair score below this.
    pub below_score: Option<f64>,
    /// Groups with a smaller id (the page before was cut there).
    pub before_id: Option<i64>,
}

/// One merge, with what it needs to be undone.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MergeRow {
    pub id: i64,
    pub survivor_id: i64,
    /// JSON `[id, …]`.
    pub merged_ids: String,
    /// JSON of the participants' rows and codes before the merge.
    pub before: String,
    pub survivor_version: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub undone_at: Option<i64>,
    pub undone_by: Option<i64>,
}

const MERGE_COLS: &str = "id, survivor_id, merged_ids, before, survivor_version, at, actor_id, \
    reason, undone_at, undone_by";

/// A map with a fast hasher, for keys that are ids or (already keyed) hashes.
/// An edge of a customer's lineage.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineageRow {
    pub parent_id: i64,
    pub child_id: i64,
    pub kind: String,
    pub op_id: i64,
    pub at: i64,
}

/// The SQLite candidate query for `n` keys (a [`padded_len`]). It runs for every
/// creation, so each length's text is built once.
fn sqlite_candidates_sql(n: usize) -> Cow<'static, str> {
    static SQL: [OnceLock<String>; 8] = [const { OnceLock::new() }; 8];
    match SQL.get(n.trailing_zeros() as usize) {
        Some(slot) => Cow::Borrowed(slot.get_or_init(|| build_candidates_sql(n))),
        None => Cow::Owned(build_candidates_sql(n)),
    }
}

fn build_candidates_sql(n: usize) -> String {
    format!(
        "SELECT json_group_array(json_array(c.id, c.row_version, c.updated_at, \
         c.status)) FROM (SELECT customer_id FROM ({}) AS hits WHERE b < $2 \
         GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id DESC \
         LIMIT $3) AS r JOIN customers c INDEXED BY customers_stamp \
         ON c.id = r.customer_id",
        key_branches(n, 4)
    )
}

/// `UNION ALL` of one branch per key: the newest `$1` customers holding the key bound
/// at `$first + i`, tagged `b = i`.
fn key_branches(n: usize, first: usize) -> String {
    let parts: Vec<String> = (0..n)
        .map(|i| {
            let newest =
                MATCH_KEYS.newest(Backend::Sqlite, &format!("key_hash = ${}", i + first), "$1");
            format!("SELECT {i} AS b, customer_id FROM ({newest}) AS k{i}")
        })
        .collect();
    parts.join(" UNION ALL ")
}

/// Keys per SQLite read-ahead statement (a compound SELECT may have at most 500 parts).
const PREFETCH_KEYS: usize = 128;

/// The SQLite read-ahead for [`PREFETCH_KEYS`] keys: every (key position, customer id)
/// of the newest `$1` customers per key; positions from `$2` on are padding. The stamps
/// are read afterwards, once per customer ([`SQLITE_STAMPS`]): a customer holding
/// several of a batch's keys (a common name prefix, a shared phone) would otherwise be
/// looked up once per key — about half the postings at a million customers.
fn sqlite_prefetch_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT json_group_array(json_array(h.b, h.customer_id)) FROM ({}) AS h \
             WHERE h.b < $2",
            key_branches(PREFETCH_KEYS, 3)
        )
    })
}

/// The stamps of the customers whose ids `$1` lists (a JSON array), from the narrow
/// `customers_stamp` index.
const SQLITE_STAMPS: &str = "SELECT json_group_array(json_array(c.id, c.row_version, \
     c.updated_at, c.status)) FROM customers c INDEXED BY customers_stamp \
     WHERE c.id IN (SELECT value FROM json_each($1))";

/// Customer ids per [`SQLITE_STAMPS`] statement.
const STAMP_CHUNK: usize = 20_000;

/// Key position, customer id, row version, updated at, status.
type Posting = (usize, i64, i64, i64, String);

/// A JSON result of the match-key read-ahead.
fn read_ahead_json<T: serde::de::DeserializeOwned>(json: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Other(format!("match read-ahead: {e}")))
}

impl Tx {
    /// Replace the blocking-key hashes of a customer (empty: it is no longer a candidate).
    pub async fn replace_match_keys(
        &mut self,
        customer_id: i64,
        hashes: &[i64],
        fresh: bool,
    ) -> StoreResult<()> {
        self.cache.postings = None;
        self.flush_lookups().await?;
        if !fresh {
            self.delete_lookup_rows(MATCH_KEYS, customer_id).await?;
        }
        let mut hashes = hashes.to_vec();
        hashes.sort_unstable();
        hashes.dedup();
        if hashes.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = (0..hashes.len())
            .map(|i| format!("(${}, $1)", i + 2))
            .collect();
        let sql = format!(
            "{} customer_match_keys (key_hash, customer_id) VALUES {}",
            self.insert_lookup_rows(),
            values.join(", ")
        );
        on_tx!(self, |c| {
            let mut q = sqlx::query(&sql).bind(customer_id);
            for h in &hashes {
                q = q.bind(*h);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Customers sharing any of the key hashes, ranked by how many keys they share, then
    /// newest first, with their version stamps. At most `per_key` newest customers are
    /// looked at per key (so a frequent key cannot turn into a scan) and at most `limit`
    /// are returned. The database does the counting and sends the result back as one
    /// JSON row, not a row per customer.
    pub async fn match_candidates(
        &mut self,
        hashes: &[i64],
        per_key: i64,
        limit: i64,
    ) -> StoreResult<Vec<CustomerStamp>> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(found) = self.read_ahead_candidates(hashes, per_key, limit) {
            // Debug builds (the tests) check every answer from memory against the
            // database's.
            #[cfg(debug_assertions)]
            {
                let key = |v: &[CustomerStamp]| {
                    let mut k: Vec<_> = v.to_vec();
                    k.sort();
                    k
                };
                let stored = self.stored_match_candidates(hashes, per_key, limit).await?;
                assert_eq!(key(&found), key(&stored), "match read-ahead out of step");
            }
            return Ok(found);
        }
        self.stored_match_candidates(hashes, per_key, limit).await
    }

    /// [`Tx::match_candidates`] answered from the read-ahead alone
    /// ([`Tx::prefetch_match_candidates`]); `None` if it does not hold every key.
    pub fn read_ahead_candidates(
        &self,
        hashes: &[i64],
        per_key: i64,
        limit: i64,
    ) -> Option<Vec<CustomerStamp>> {
        self.cache
            .postings
            .as_ref()?
            .candidates(hashes, per_key, limit)
    }

    /// [`Tx::match_candidates`] asked of the database.
    async fn stored_match_candidates(
        &mut self,
        hashes: &[i64],
        per_key: i64,
        limit: i64,
    ) -> StoreResult<Vec<CustomerStamp>> {
        self.flush_lookups().await?;
        self.settle().await?;
        let json: String = match &mut self.conn {
            TxConn::Lent => return Err(TxConn::lent().into()),
            // One statement text for any number of keys (planned once per connection):
            // the keys as an array, each looked up by a lateral subquery.
            TxConn::Pg(c) => {
                sqlx::query_scalar::<_, String>(
                    "SELECT COALESCE(json_agg(json_build_array(c.id, c.row_version, \
                     c.updated_at, c.status))::text, '[]') \
                     FROM (SELECT m.customer_id FROM unnest($2::bigint[]) AS k(hash) \
                     CROSS JOIN LATERAL (SELECT customer_id FROM customer_match_keys \
                     WHERE key_hash = k.hash ORDER BY customer_id DESC LIMIT $1) AS m \
                     GROUP BY m.customer_id ORDER BY COUNT(*) DESC, m.customer_id DESC \
                     LIMIT $3) AS r JOIN customers c ON c.id = r.customer_id",
                )
                .bind(per_key)
                .bind(hashes)
                .bind(limit)
                .fetch_one(&mut **c)
                .await?
            }
            // SQLite has no arrays: one branch per key. Padding repeats the first key (so
            // few statement texts are cached); each branch is tagged with its position so
            // the padding's hits are not counted. The stamps come from the narrow
            // `customers_stamp` index: the planner would read the wide rows by rowid.
            TxConn::Sqlite(c) => {
                let mut padded = hashes.to_vec();
                padded.resize(padded_len(hashes.len()), hashes[0]);
                let sql = sqlite_candidates_sql(padded.len());
                let mut q = sqlx::query_scalar::<_, String>(&sql)
                    .bind(per_key)
                    .bind(hashes.len() as i64)
                    .bind(limit);
                for h in &padded {
                    q = q.bind(*h);
                }
                q.fetch_one(&mut **c).await?
            }
        };
        let stamps: Vec<(i64, i64, i64, String)> = serde_json::from_str(&json)
            .map_err(|e| StoreError::Other(format!("match candidates: {e}")))?;
        Ok(stamps
            .into_iter()
            .map(|(id, row_version, updated_at, status)| {
                CustomerStamp::new(id, row_version, updated_at, &status)
            })
            .collect())
    }

    /// Read ahead, in one statement (a few on SQLite), what [`Tx::match_candidates`] needs
    /// for every key of a batch of creations, so that each creation's duplicate check is
    /// answered from memory. Nobody else may change the postings until the transaction
    /// ends: on SQLite a transaction sees one snapshot (and a writer is alone); on
    /// PostgreSQL only once the transaction holds the audit head, which every writer of
    /// customers takes first. The transaction's own creations are added as they are
    /// written, and any other change to a customer drops the read-ahead.
    pub async fn prefetch_match_candidates(
        &mut self,
        hashes: &[i64],
        per_key: i64,
    ) -> StoreResult<()> {
        if self.backend() == crate::Backend::Postgres && self.cache.audit_head.is_none() {
            return Ok(());
        }
        if self
            .cache
            .postings
            .as_ref()
            .is_some_and(|p| p.per_key != per_key)
        {
            self.cache.postings = None;
        }
        let known = self.cache.postings.as_ref().map(|p| &p.lists);
        let mut want: Vec<i64> = hashes
            .iter()
            .copied()
            .filter(|h| known.is_none_or(|l| !l.contains_key(h)))
            .collect();
        want.sort_unstable();
        want.dedup();
        if want.is_empty() {
            return Ok(());
        }
        self.flush_lookups().await?;
        self.settle().await?;
        // (key position, holder).
        let rows: Vec<(usize, CustomerStamp)> = match &mut self.conn {
            TxConn::Lent => return Err(TxConn::lent().into()),
            TxConn::Pg(c) => {
                let json: String = sqlx::query_scalar(
                    "SELECT COALESCE(json_agg(json_build_array(k.i - 1, c.id, c.row_version, \
                     c.updated_at, c.status))::text, '[]') \
                     FROM unnest($2::bigint[]) WITH ORDINALITY AS k(hash, i) \
                     CROSS JOIN LATERAL (SELECT customer_id FROM customer_match_keys \
                     WHERE key_hash = k.hash ORDER BY customer_id DESC LIMIT $1) AS m \
                     JOIN customers c ON c.id = m.customer_id",
                )
                .bind(per_key)
                .bind(&want)
                .fetch_one(&mut **c)
                .await?;
                let found: Vec<Posting> = read_ahead_json(&json)?;
                found
                    .into_iter()
                    .map(|(i, id, v, u, st)| (i, CustomerStamp::new(id, v, u, &st)))
                    .collect()
            }
            TxConn::Sqlite(c) => {
                let mut held: Vec<(usize, i64)> = Vec::new();
                for (n, chunk) in want.chunks(PREFETCH_KEYS).enumerate() {
                    let mut q = sqlx::query_scalar::<_, String>(sqlite_prefetch_sql())
                        .bind(per_key)
                        .bind(chunk.len() as i64);
                    for i in 0..PREFETCH_KEYS {
                        q = q.bind(chunk.get(i).unwrap_or(&chunk[0]));
                    }
                    let json = q.fetch_one(&mut **c).await?;
                    let found: Vec<(usize, i64)> = read_ahead_json(&json)?;
                    held.extend(found.into_iter().map(|(i, id)| (i + n * PREFETCH_KEYS, id)));
                }
                let mut ids: Vec<i64> = held.iter().map(|(_, id)| *id).collect();
                ids.sort_unstable();
                ids.dedup();
                let mut stamps: FoldMap<i64, CustomerStamp> = FoldMap::default();
                for chunk in ids.chunks(STAMP_CHUNK) {
                    let json: String = sqlx::query_scalar(SQLITE_STAMPS)
                        .bind(crate::sql_text::json_list(chunk))
                        .fetch_one(&mut **c)
                        .await?;
                    let found: Vec<(i64, i64, i64, String)> = read_ahead_json(&json)?;
                    stamps.extend(
                        found
                            .into_iter()
                            .map(|(id, v, u, st)| (id, CustomerStamp::new(id, v, u, &st))),
                    );
                }
                // A key row whose customer is gone is no candidate (as with the join).
                held.into_iter()
                    .filter_map(|(i, id)| Some((i, *stamps.get(&id)?)))
                    .collect()
            }
        };
        let postings = self
            .cache
            .postings
            .get_or_insert_with(|| MatchPostings::new(per_key));
        for h in &want {
            postings.lists.insert(*h, VecDeque::new());
        }
        for (i, stamp) in rows {
            let h = want
                .get(i)
                .ok_or_else(|| StoreError::Other("match read-ahead: bad key position".into()))?;
            if let Some(list) = postings.lists.get_mut(h) {
                list.push_back(stamp);
            }
        }
        for h in &want {
            if let Some(list) = postings.lists.get_mut(h) {
                list.make_contiguous()
                    .sort_unstable_by_key(|s| std::cmp::Reverse(s.id));
            }
        }
        Ok(())
    }

    /// How many customers have match keys (0 on a database indexed before they existed).
    pub async fn count_match_indexed(&mut self) -> StoreResult<i64> {
        self.flush_lookups().await?;
        let sql = format!(
            "SELECT COUNT(DISTINCT customer_id) FROM {} AS m",
            MATCH_KEYS.rows(self.backend())
        );
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(&sql)
            .fetch_one(c)
            .await)?)
    }

    /// Customers by id, in id order.
    pub async fn customers_by_ids(&mut self, ids: &[i64]) -> StoreResult<Vec<CustomerRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CUSTOMER_COLS} FROM customers WHERE id IN ({}) ORDER BY id",
            placeholders_from(1, padded_len(ids.len()))
        );
        let ids = padded_ids(ids);
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, CustomerRow>(&sql);
            for id in &ids {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?)
    }

    /// A page of customers with `id > after` in the given statuses, in id order.
    pub async fn customers_after(
        &mut self,
        after: i64,
        statuses: &[&str],
        limit: i64,
    ) -> StoreResult<Vec<CustomerRow>> {
        let sql = format!(
            "SELECT {CUSTOMER_COLS} FROM customers WHERE id > $1 AND status IN ({}) \
             ORDER BY id LIMIT $2",
            placeholders_from(3, statuses.len())
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, CustomerRow>(&sql)
                .bind(after)
                .bind(limit);
            for s in statuses {
                q = q.bind(*s);
            }
            q.fetch_all(c).await
        })?)
    }

    pub async fn set_merged_into(&mut self, id: i64, survivor: Option<i64>) -> StoreResult<()> {
        self.cache.postings = None;
        on_tx!(self, |c| sqlx::query(
            "UPDATE customers SET merged_into = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(survivor)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn merged_into(&mut self, id: i64) -> StoreResult<Option<i64>> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, Option<i64>>(
            "SELECT merged_into FROM customers WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(c)
        .await)?
        .flatten())
    }

    // ---- review queue ----

    /// Insert an open group unless an open group with the same members exists; returns
    /// the new id, or `None` when it was already queued.
    pub async fn insert_duplicate_group(
        &mut self,
        g: &DuplicateGroupRow,
        members: &[i64],
    ) -> StoreResult<Option<i64>> {
        let existing = on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT id FROM duplicate_groups WHERE fingerprint = $1 AND status = 'open'"
        )
        .bind(&g.fingerprint)
        .fetch_optional(c)
        .await)?;
        if existing.is_some() {
            return Ok(None);
        }
        let id = on_tx!(self, |c| {
            sqlx::query_scalar::<_, i64>(
            "INSERT INTO duplicate_groups (status, fingerprint, score, pairs, scan_id, created_at, \
             source, customer_type) VALUES ('open', $1, $2, $3, $4, $5, $6, $7) RETURNING id"
        )
        .bind(&g.fingerprint)
        .bind(g.score)
        .bind(&g.pairs)
        .bind(g.scan_id)
        .bind(g.created_at)
        .bind(&g.source)
        .bind(&g.customer_type)
        .fetch_one(c)
        .await
        })?;
        for m in members {
            on_tx!(self, |c| sqlx::query(
                "INSERT INTO duplicate_group_members (group_id, customer_id) VALUES ($1, $2)"
            )
            .bind(id)
            .bind(*m)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(Some(id))
    }

    /// Groups in a status, best score first, then id; `after` is the last id of the
    /// previous page (ordered by id descending for a stable cursor).
    /// A page of groups, newest first. The `(status, id)` index walks each status in
    /// this order; the other filters are tested on the rows it yields.
    pub async fn duplicate_groups(
        &mut self,
        f: &GroupFilter<'_>,
        limit: i64,
    ) -> StoreResult<Vec<DuplicateGroupRow>> {
        let sql = format!(
            "SELECT {GROUP_COLS} FROM duplicate_groups WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR id < $2) AND ($3 IS NULL OR source = $3) \
             AND ($4 IS NULL OR customer_type = $4) AND ($5 IS NULL OR score >= $5) \
             AND ($6 IS NULL OR score < $6) ORDER BY id DESC LIMIT $7"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, DuplicateGroupRow>(
            &sql
        )
        .bind(f.status)
        .bind(f.before_id)
        .bind(f.source)
        .bind(f.customer_type)
        .bind(f.min_score)
        .bind(f.below_score)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// Groups per status (the index answers it without reading the rows).
    pub async fn duplicate_group_counts(&mut self) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, (String, i64)>(
            "SELECT status, COUNT(*) FROM duplicate_groups GROUP BY status ORDER BY status"
        )
        .fetch_all(c)
        .await)?)
    }

    pub async fn duplicate_group(&mut self, id: i64) -> StoreResult<Option<DuplicateGroupRow>> {
        let sql = format!("SELECT {GROUP_COLS} FROM duplicate_groups WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, DuplicateGroupRow>(
            &sql
        )
        .bind(id)
        .fetch_optional(c)
        .await)?)
    }

    pub async fn duplicate_group_members(&mut self, group_id: i64) -> StoreResult<Vec<i64>> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT customer_id FROM duplicate_group_members WHERE group_id = $1 \
             ORDER BY customer_id"
        )
        .bind(group_id)
        .fetch_all(c)
        .await)?)
    }

    /// Decide an open group; false when it was not open any more (someone else decided).
    pub async fn decide_duplicate_group(
        &mut self,
        id: i64,
        status: &str,
        at: i64,
        by: i64,
        reason: Option<&str>,
        merge_id: Option<i64>,
    ) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "UPDATE duplicate_groups SET status = $2, decided_at = $3, decided_by = $4, \
             decision_reason = $5, merge_id = $6 WHERE id = $1 AND status = 'open'"
        )
        .bind(id)
        .bind(status)
        .bind(at)
        .bind(by)
        .bind(reason)
        .bind(merge_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Open groups that contain any of these customers.
    pub async fn open_groups_with(&mut self, customer_ids: &[i64]) -> StoreResult<Vec<i64>> {
        if customer_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT DISTINCT g.id FROM duplicate_groups g JOIN duplicate_group_members m \
             ON m.group_id = g.id WHERE g.status = 'open' AND m.customer_id IN ({})",
            placeholders_from(1, customer_ids.len())
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, i64>(&sql);
            for id in customer_ids {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?)
    }

    pub async fn insert_dismissal(
        &mut self,
        a: i64,
        b: i64,
        at: i64,
        by: i64,
        reason: Option<&str>,
    ) -> StoreResult<()> {
        let (a, b) = (a.min(b), a.max(b));
        let sql = "INSERT INTO duplicate_dismissals (a_id, b_id, at, by_user, reason) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (a_id, b_id) DO NOTHING";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(a)
            .bind(b)
            .bind(at)
            .bind(by)
            .bind(reason)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Every dismissed pair (low id, high id).
    pub async fn dismissed_pairs(&mut self) -> StoreResult<Vec<(i64, i64)>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, (i64, i64)>(
            "SELECT a_id, b_id FROM duplicate_dismissals"
        )
        .fetch_all(c)
        .await)?)
    }

    /// Dismissed pairs among these customers.
    pub async fn dismissed_among(&mut self, ids: &[i64]) -> StoreResult<Vec<(i64, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let p = placeholders_from(1, ids.len());
        let sql = format!(
            "SELECT a_id, b_id FROM duplicate_dismissals WHERE a_id IN ({p}) AND b_id IN ({p})"
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, (i64, i64)>(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?)
    }

    // ---- merges and lineage ----

    pub async fn insert_merge(&mut self, m: &MergeRow) -> StoreResult<i64> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "INSERT INTO customer_merges (survivor_id, merged_ids, before, survivor_version, \
             at, actor_id, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
        )
        .bind(m.survivor_id)
        .bind(&m.merged_ids)
        .bind(&m.before)
        .bind(m.survivor_version)
        .bind(m.at)
        .bind(m.actor_id)
        .bind(&m.reason)
        .fetch_one(c)
        .await)?)
    }

    pub async fn set_merge_before(&mut self, id: i64, before: &str) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "UPDATE customer_merges SET before = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(before)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn merge_record(&mut self, id: i64) -> StoreResult<Option<MergeRow>> {
        let sql = format!("SELECT {MERGE_COLS} FROM customer_merges WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MergeRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// Merges a customer took part in (as survivor or merged), newest first.
    pub async fn merges_of(&mut self, customer_id: i64) -> StoreResult<Vec<MergeRow>> {
        // merged_ids is a JSON array of integers: match the id between its delimiters
        // (undone merges have no lineage rows any more, so lineage cannot be used).
        let sql = format!(
            "SELECT {MERGE_COLS} FROM customer_merges WHERE survivor_id = $1 \
             OR merged_ids LIKE $2 OR merged_ids LIKE $3 OR merged_ids LIKE $4 \
             OR merged_ids = $5 ORDER BY id DESC"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MergeRow>(&sql)
            .bind(customer_id)
            .bind(format!("[{customer_id},%"))
            .bind(format!("%,{customer_id},%"))
            .bind(format!("%,{customer_id}]"))
            .bind(format!("[{customer_id}]"))
            .fetch_all(c)
            .await)?)
    }

    /// Mark a merge undone; false when it already was.
    pub async fn mark_merge_undone(&mut self, id: i64, at: i64, by: i64) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "UPDATE customer_merges SET undone_at = $2, undone_by = $3 \
             WHERE id = $1 AND undone_at IS NULL"
        )
        .bind(id)
        .bind(at)
        .bind(by)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn insert_lineage(&mut self, l: &LineageRow) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO customer_lineage (parent_id, child_id, kind, op_id, at) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(l.parent_id)
        .bind(l.child_id)
        .bind(&l.kind)
        .bind(l.op_id)
        .bind(l.at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Every lineage edge touching the customer.
    pub async fn lineage_of(&mut self, customer_id: i64) -> StoreResult<Vec<LineageRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, LineageRow>(
            "SELECT parent_id, child_id, kind, op_id, at FROM customer_lineage \
             WHERE parent_id = $1 OR child_id = $1 ORDER BY at, op_id"
        )
        .bind(customer_id)
        .fetch_all(c)
        .await)?)
    }

    /// Remove the lineage edges of an undone merge.
    pub async fn delete_lineage(&mut self, kind: &str, op_id: i64) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "DELETE FROM customer_lineage WHERE kind = $1 AND op_id = $2"
        )
        .bind(kind)
        .bind(op_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
