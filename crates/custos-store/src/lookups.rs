//! Lookup rows of new customers held back until the transaction needs them (SQLite).
//!
//! A creation adds about ten match keys, ten name bigrams and a few blind-index
//! hashes. Their keys are random, so at a million customers each of these B-tree
//! inserts lands on a different page, far more pages than the writer's cache holds: a
//! batch of creations kept evicting pages it had just changed and reading them back.
//! Written together, sorted by key, the same rows visit each page once, in order.
//!
//! So on SQLite [`crate::Tx::insert_new_customer`] queues these rows here, and the
//! transaction writes them before any statement that reads or changes those tables, and
//! at commit (see [`crate::Tx::flush_lookups`]). Nothing outside the transaction can see
//! the difference: other connections see the rows when the transaction commits, as
//! before. Rows stay queued (already written ones are only marked so) until the
//! transaction ends, so that a rollback to a savepoint can put the queue back exactly:
//! rows queued after the savepoint are dropped, and rows written after it are queued
//! again, since the rollback undid their write.
//!
//! ## Rows written aside
//!
//! Even sorted, a batch of 30,000 creations changes nearly every leaf page of these
//! tables at a million customers (some 500 MB), and every such page goes through the
//! write-ahead log and back into the database file: the cost of a batch grew with the
//! size of the database, not of the batch. So once the database holds [`ASIDE_FROM`]
//! customers, a bulk transaction ([`crate::Tx::set_bulk`]) writes its rows into a small
//! companion table of each (`…_recent`, same key), whose pages are few, and its commit
//! moves them into the main table, sorted, only once the companions hold enough
//! customers for the move to be worth a pass over the main table ([`due_for_moving`]).
//! Every read of these tables reads both ([`LookupTable`]); a customer's rows are in one
//! of the two, never both (the move is one statement pair in the writer's transaction; a
//! change of the customer deletes from both and writes to the main table). The
//! companions are keyed like the main tables but have no index on the customer id: a
//! record per customer of the rows it has aside ([`ASIDE_ROWS`]) lets a change delete
//! them by key, and costs one appended row per customer instead of a random index
//! insert per lookup row. PostgreSQL
//! has no companions: its creations write each customer's rows at once (no queue), and
//! nothing there was measured to need them.

use std::borrow::Cow;

use crate::Backend;

/// One of the lookup tables whose new rows bulk transactions write aside on SQLite.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LookupTable {
    pub(crate) name: &'static str,
    /// Its columns in the primary key's order (the customer id last).
    cols: &'static str,
    /// Where its rows are in a `lookup_rows_aside.rows` array (see [`ASIDE_ROWS`]).
    aside_pos: usize,
    /// Its key columns from an element `j.value` of that array.
    aside_key: &'static str,
}

pub(crate) const MATCH_KEYS: LookupTable = LookupTable {
    name: "customer_match_keys",
    cols: "key_hash, customer_id",
    aside_pos: 0,
    aside_key: "j.value",
};
pub(crate) const NAME_GRAMS: LookupTable = LookupTable {
    name: "customer_name_grams",
    cols: "gram, customer_id",
    aside_pos: 1,
    aside_key: "j.value",
};
pub(crate) const BLIND_INDEX: LookupTable = LookupTable {
    name: "customer_blind_index",
    cols: "kind, hash, customer_id",
    aside_pos: 2,
    aside_key: "json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]')",
};
/// Every table with a companion, in the order the queue lists them.
pub(crate) const WRITTEN_ASIDE: [LookupTable; 3] = [MATCH_KEYS, NAME_GRAMS, BLIND_INDEX];

/// Records, per customer with rows in the companions, those rows (migration 0012): a
/// change of the customer finds them there by key, so the companions need no index on
/// the customer id. A customer's rows are written aside once, by the bulk transaction
/// that created it; its record stays until the move takes all rows aside away (a change
/// of the customer deletes the rows, and deleting them again finds nothing).
const ASIDE_ROWS: &str = "lookup_rows_aside";

/// SQLite: the smallest and largest id of the customers with rows aside (or NULLs).
pub(crate) const ASIDE_ID_RANGE: &str = "SELECT (SELECT MIN(customer_id) FROM lookup_rows_aside) \
     AS lo, (SELECT MAX(customer_id) FROM lookup_rows_aside) AS hi";

/// SQLite: forget the records of rows aside, once all were moved.
pub(crate) const FORGET_ASIDE_ROWS: &str = "DELETE FROM lookup_rows_aside";

impl LookupTable {
    /// The statements that delete a customer's rows (`$1`) from the table, and from its
    /// companion on SQLite.
    pub(crate) fn delete_customer_rows(self, backend: Backend) -> Vec<String> {
        let mut sql = vec![format!("DELETE FROM {} WHERE customer_id = $1", self.name)];
        if backend == Backend::Sqlite {
            // By key, from the record of the rows written aside (the companion has no
            // index on the customer id).
            sql.push(format!(
                "DELETE FROM {n}_recent WHERE ({c}) IN (SELECT {k}, a.customer_id \
                 FROM {ASIDE_ROWS} AS a, json_each(a.rows, '$[{p}]') AS j \
                 WHERE a.customer_id = $1)",
                n = self.name,
                c = self.cols,
                k = self.aside_key,
                p = self.aside_pos,
            ));
        }
        sql
    }

    /// Every row of the table, as a `FROM` source (its columns keep their names).
    pub(crate) fn rows(self, backend: Backend) -> Cow<'static, str> {
        match backend {
            Backend::Postgres => Cow::Borrowed(self.name),
            Backend::Sqlite => Cow::Owned(format!(
                "(SELECT {c} FROM {n} UNION ALL SELECT {c} FROM {n}_recent)",
                c = self.cols,
                n = self.name
            )),
        }
    }

    /// A query of the `customer_id` of the newest `limit` rows where `cond` holds,
    /// newest (highest id) first. On SQLite both parts are read in key order and merged,
    /// so the limit stops the reading of a frequent key early, as on one table.
    pub(crate) fn newest(self, backend: Backend, cond: &str, limit: &str) -> String {
        let n = self.name;
        match backend {
            Backend::Postgres => format!(
                "SELECT customer_id FROM {n} WHERE {cond} ORDER BY customer_id DESC LIMIT {limit}"
            ),
            Backend::Sqlite => format!(
                "SELECT customer_id FROM {n} WHERE {cond} UNION ALL \
                 SELECT customer_id FROM {n}_recent WHERE {cond} \
                 ORDER BY customer_id DESC LIMIT {limit}"
            ),
        }
    }

    /// SQLite: the statements moving the companion's rows into the main table, sorted.
    pub(crate) fn move_aside_rows(self) -> [String; 2] {
        let (n, c) = (self.name, self.cols);
        [
            format!("INSERT OR IGNORE INTO {n} ({c}) SELECT {c} FROM {n}_recent ORDER BY {c}"),
            format!("DELETE FROM {n}_recent"),
        ]
    }

    /// The statement writing rows given as a JSON array of arrays (in the columns'
    /// order), into the companion when `aside`.
    fn insert_json(self, aside: bool) -> String {
        let parts: Vec<String> = (0..self.cols.split(',').count())
            .map(|i| format!("json_extract(value, '$[{i}]')"))
            .collect();
        format!(
            "INSERT OR IGNORE INTO {}{} ({}) SELECT {} FROM json_each($1)",
            self.name,
            if aside { "_recent" } else { "" },
            self.cols,
            parts.join(", ")
        )
    }
}

/// Customers (by the next id) from which bulk transactions write aside. Every row is
/// inserted twice that way (aside, then moved), which costs more than it saves while
/// the main tables are small: `custos bench import` measured the first million
/// customers 9 % slower written aside from the start, the second million 10 % faster.
pub(crate) const ASIDE_FROM: i64 = 500_000;

/// Whether rows aside of `aside` customers (their id range) should move into the main
/// tables now, with `total` customers in all and `batch` created by the transaction.
///
/// Each bulk commit rewrites the companion pages it touches (about all of them: cost
/// ∝ `aside`); a move rewrites the main tables' pages once (∝ `total`). Moving when
/// `aside` reaches √(2 · main · batch) keeps the sum of both per customer least.
pub(crate) fn due_for_moving(aside: i64, total: i64, batch: i64) -> bool {
    if aside <= 0 {
        return false;
    }
    let main = (total - aside).max(0) as f64;
    let threshold = (2.0 * main * batch.max(1) as f64).sqrt();
    aside as f64 >= threshold
}

/// Rows per insert statement when the queue is written.
const CHUNK: usize = 20_000;

/// How far each list had got (queued, written).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Marks {
    queued: [usize; 3],
    written: [usize; 3],
}

#[derive(Default, Debug)]
pub(crate) struct PendingLookups {
    /// (key_hash, customer_id)
    match_keys: Vec<(i64, i64)>,
    /// (gram, customer_id)
    grams: Vec<(String, i64)>,
    /// (kind, hash, customer_id)
    blind: Vec<(String, String, i64)>,
    written: [usize; 3],
    /// Creations queued in the transaction (rollbacks not taken back: an estimate).
    customers: usize,
}

impl PendingLookups {
    /// Queue a new customer's rows (repeats are harmless: the inserts ignore them).
    pub(crate) fn queue(
        &mut self,
        customer_id: i64,
        match_keys: &[i64],
        grams: &[String],
        blind: &[(String, String)],
    ) {
        let id = customer_id;
        self.customers += 1;
        self.match_keys.extend(match_keys.iter().map(|k| (*k, id)));
        self.grams.extend(grams.iter().map(|g| (g.clone(), id)));
        self.blind
            .extend(blind.iter().map(|(k, h)| (k.clone(), h.clone(), id)));
    }

    /// Creations queued in the transaction.
    pub(crate) fn customers(&self) -> usize {
        self.customers
    }

    pub(crate) fn is_written(&self) -> bool {
        self.written == self.lens()
    }

    fn lens(&self) -> [usize; 3] {
        [self.match_keys.len(), self.grams.len(), self.blind.len()]
    }

    pub(crate) fn marks(&self) -> Marks {
        Marks {
            queued: self.lens(),
            written: self.written,
        }
    }

    /// Back to `m` after a rollback to the savepoint `m` was taken at.
    pub(crate) fn restore(&mut self, m: Marks) {
        self.match_keys.truncate(m.queued[0]);
        self.grams.truncate(m.queued[1]);
        self.blind.truncate(m.queued[2]);
        for i in 0..3 {
            self.written[i] = self.written[i].min(m.written[i]);
        }
    }

    /// The statements (SQL, JSON rows) that write what is not written yet, each list
    /// sorted by the table's key, into the companion tables when `aside`; marks it
    /// written. Written aside, a record of each customer's rows goes to [`ASIDE_ROWS`]
    /// too.
    pub(crate) fn take_unwritten(&mut self, aside: bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let w = self.written;
        let [m, g, b] = WRITTEN_ASIDE.map(|t| t.insert_json(aside));
        let (keys, grams, blind) = (
            &self.match_keys[w[0]..],
            &self.grams[w[1]..],
            &self.blind[w[2]..],
        );
        statements(&mut out, &m, keys);
        statements(&mut out, &g, grams);
        statements(&mut out, &b, blind);
        if aside {
            records(&mut out, keys, grams, blind);
        }
        self.written = self.lens();
        out
    }
}

/// `sql` with `rows` sorted (a copy: the queue keeps its order for savepoint marks), as
/// JSON arrays of at most [`CHUNK`] rows.
fn statements<T: Ord + Clone + serde::Serialize>(
    out: &mut Vec<(String, String)>,
    sql: &str,
    rows: &[T],
) {
    let mut rows = rows.to_vec();
    rows.sort_unstable();
    for chunk in rows.chunks(CHUNK) {
        // Tuples of strings and integers always serialise (as JSON arrays).
        if let Ok(json) = serde_json::to_string(chunk) {
            out.push((sql.to_string(), json));
        }
    }
}

/// Rows of one customer, as recorded in [`ASIDE_ROWS`]: key hashes, bigrams, (kind,
/// hash) pairs.
type AsideRows<'a> = (Vec<i64>, Vec<&'a str>, Vec<(&'a str, &'a str)>);

/// The statements recording which rows of which customers were written aside, as JSON
/// arrays `[customer id, [keys, grams, blind]]` of at most [`CHUNK`] customers.
fn records(
    out: &mut Vec<(String, String)>,
    keys: &[(i64, i64)],
    grams: &[(String, i64)],
    blind: &[(String, String, i64)],
) {
    let mut by_customer: std::collections::BTreeMap<i64, AsideRows> = Default::default();
    for (k, id) in keys {
        by_customer.entry(*id).or_default().0.push(*k);
    }
    for (g, id) in grams {
        by_customer.entry(*id).or_default().1.push(g);
    }
    for (kind, hash, id) in blind {
        by_customer.entry(*id).or_default().2.push((kind, hash));
    }
    let sql = format!(
        "INSERT OR REPLACE INTO {ASIDE_ROWS} (customer_id, rows) \
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1)"
    );
    let all: Vec<(i64, AsideRows)> = by_customer.into_iter().collect();
    for chunk in all.chunks(CHUNK) {
        // Integers and strings in tuples and lists always serialise.
        if let Ok(json) = serde_json::to_string(chunk) {
            out.push((sql.clone(), json));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::customer_master::{CustomerFilter, CustomerIndexes, HistoryRow, NewCustomerWrite};
    use crate::testing::TestDb;
    use crate::{AuditRecord, Backend, CodeRow, CustomerRow, Tx};

    /// Create customer `code` with the given lookup rows through the store's creation.
    async fn create(tx: &mut Tx, code: &str, keys: &[i64], gram: &str, hash: &str) -> i64 {
        write(tx, code, keys, gram, hash).await.unwrap()
    }

    async fn try_create(tx: &mut Tx, code: &str) -> crate::StoreResult<i64> {
        write(tx, code, &[2], "中兴", "h-x").await
    }

    async fn write(
        tx: &mut Tx,
        code: &str,
        keys: &[i64],
        gram: &str,
        hash: &str,
    ) -> crate::StoreResult<i64> {
        let row = CustomerRow {
            code: code.into(),
            customer_type: "enterprise".into(),
            name: format!("{gram}{code}"),
            name_key: format!("{gram}{code}"),
            status: "active".into(),
            data: "{}".into(),
            created_at: 1,
            updated_at: 1,
            row_version: 1,
            ..CustomerRow::default()
        };
        let code_row = CodeRow {
            code: code.into(),
            manual: true,
            status: "active".into(),
            issued_at: 1,
            ..CodeRow::default()
        };
        let indexes = CustomerIndexes {
            blind: vec![("mobile".into(), hash.into())],
            grams: vec![gram.into()],
            match_keys: keys.to_vec(),
            ..CustomerIndexes::default()
        };
        let history = HistoryRow {
            id: 0,
            customer_id: 0,
            row_version: 1,
            at: 1,
            actor_id: None,
            actor_name: "test".into(),
            action: "create".into(),
            reason: None,
            changes: String::new(),
            snapshot: "{}".into(),
        };
        let audit = AuditRecord {
            action: "customer.create".into(),
            target_type: "customer".into(),
            target_id: code.into(),
            ..AuditRecord::default()
        };
        tx.insert_new_customer(NewCustomerWrite {
            row: &row,
            created_month: "2026-11",
            code: &code_row,
            indexes: &indexes,
            history: &history,
            audit: &audit,
            quality: &crate::QualityRow {
                failing: "[]".into(),
                ..Default::default()
            },
        })
        .await
    }

    /// (table, key, customer id) of every lookup row, sorted.
    async fn stored(tx: &mut Tx) -> Vec<(String, String, i64)> {
        let b = tx.backend();
        let sql = format!(
            "SELECT 'm', CAST(key_hash AS TEXT), customer_id FROM {} AS m \
             UNION ALL SELECT 'g', gram, customer_id FROM {} AS g \
             UNION ALL SELECT 'b', kind || ':' || hash, customer_id FROM {} AS b",
            MATCH_KEYS.rows(b),
            NAME_GRAMS.rows(b),
            BLIND_INDEX.rows(b)
        );
        let mut rows: Vec<(String, String, i64)> =
            crate::on_tx!(tx, |c| sqlx::query_as(&sql).fetch_all(c).await).unwrap();
        rows.sort();
        rows
    }

    /// The lookup rows of new customers are seen by the transaction's own reads, and a
    /// rollback to a savepoint takes back exactly the customers created after it — also
    /// when their rows and earlier ones were written (by a read) after the savepoint.
    async fn queued_rows_follow_the_transaction(backend: Backend) {
        let Some(t) = TestDb::new(backend).await.unwrap() else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return;
        };
        let mut tx = t.db.begin().await.unwrap();
        let a = create(&mut tx, "L0001", &[7, -3], "华为", "h-a").await;
        tx.savepoint().await.unwrap();
        let b = create(&mut tx, "L0002", &[7, 11], "华为", "h-b").await;
        // Reads in the transaction see both (and write the queue, A's rows included).
        let hits = tx.match_candidates(&[7], 50, 10).await.unwrap();
        let mut ids: Vec<i64> = hits.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![a, b]);
        let grams = tx.name_gram_candidates(&["华为".into()], 10).await.unwrap();
        assert_eq!(grams.len(), 2);
        tx.rollback_to_savepoint().await.unwrap();
        let c = create(&mut tx, "L0003", &[11], "中兴", "h-c").await;
        tx.commit().await.unwrap();

        let mut tx = t.db.begin().await.unwrap();
        let expected: Vec<(String, String, i64)> = vec![
            ("b".into(), "mobile:h-a".into(), a),
            ("b".into(), "mobile:h-c".into(), c),
            ("g".into(), "中兴".into(), c),
            ("g".into(), "华为".into(), a),
            ("m".into(), "-3".into(), a),
            ("m".into(), "11".into(), c),
            ("m".into(), "7".into(), a),
        ];
        let mut want = expected.clone();
        want.sort();
        assert_eq!(stored(&mut tx).await, want);
        assert!(tx.customer_by_code("L0002").await.unwrap().is_none());
        tx.rollback().await.unwrap();
        t.cleanup().await;
    }

    /// A creation sent ahead that fails (here: a code already used, which the use case
    /// rules out before writing) fails the transaction: later queries and the commit
    /// return an error, and nothing of it is stored (on PostgreSQL the creation fails
    /// at once).
    async fn a_failed_creation_fails_the_transaction(backend: Backend) {
        let Some(t) = TestDb::new(backend).await.unwrap() else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return;
        };
        let mut tx = t.db.begin().await.unwrap();
        create(&mut tx, "L0001", &[1], "华为", "h-a").await;
        let failed = match try_create(&mut tx, "L0001").await {
            Err(_) => true,
            // Sent ahead: the failure shows at the next query.
            Ok(_) => tx.customer_by_code("L0001").await.is_err(),
        };
        assert!(
            failed,
            "the second creation with the same code did not fail"
        );
        let committed = tx.commit().await;
        // PostgreSQL answers the COMMIT of a failed transaction by rolling it back.
        if backend == Backend::Sqlite {
            assert!(committed.is_err(), "a poisoned transaction committed");
        }
        let mut tx = t.db.begin().await.unwrap();
        assert!(tx.customer_by_code("L0001").await.unwrap().is_none());
        assert!(stored(&mut tx).await.is_empty());
        tx.rollback().await.unwrap();
        t.cleanup().await;
    }

    #[tokio::test]
    async fn a_failed_creation_fails_the_transaction_sqlite() {
        a_failed_creation_fails_the_transaction(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_failed_creation_fails_the_transaction_postgres() {
        a_failed_creation_fails_the_transaction(Backend::Postgres).await;
    }

    /// The queued rows of a chunk are not written under the last import row's savepoint
    /// (released by the caller, still open on the connection until the next one): that
    /// would copy every page they change into SQLite's sub-journal first.
    #[tokio::test]
    async fn queued_rows_are_written_outside_a_released_savepoint() {
        let t = TestDb::new(Backend::Sqlite).await.unwrap().unwrap();
        let mut tx = t.db.begin().await.unwrap();
        tx.savepoint().await.unwrap();
        create(&mut tx, "L0001", &[1], "华为", "h-a").await;
        tx.release_savepoint().await.unwrap();
        tx.flush_lookups().await.unwrap();
        // RELEASE fails when no such savepoint is open.
        let released = crate::on_tx!(tx, |c| sqlx::query("RELEASE SAVEPOINT custos_job")
            .execute(c)
            .await
            .map(|r| r.rows_affected()));
        assert!(
            released.is_err(),
            "the savepoint was still open when the rows were written"
        );
        tx.commit().await.unwrap();
        t.cleanup().await;
    }

    #[tokio::test]
    async fn queued_rows_follow_the_transaction_sqlite() {
        queued_rows_follow_the_transaction(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn queued_rows_follow_the_transaction_postgres() {
        queued_rows_follow_the_transaction(Backend::Postgres).await;
    }

    /// Rows in the companion tables (SQLite), as (table, customer id), sorted.
    async fn aside(tx: &mut Tx) -> Vec<(String, i64)> {
        let mut rows: Vec<(String, i64)> = crate::on_tx!(tx, |c| sqlx::query_as(
            "SELECT 'm', customer_id FROM customer_match_keys_recent \
             UNION ALL SELECT 'g', customer_id FROM customer_name_grams_recent \
             UNION ALL SELECT 'b', customer_id FROM customer_blind_index_recent"
        )
        .fetch_all(c)
        .await)
        .unwrap();
        rows.sort();
        rows
    }

    fn ids(mut v: Vec<i64>) -> Vec<i64> {
        v.sort_unstable();
        v
    }

    /// Rows a bulk transaction writes aside are read like all others — by the duplicate
    /// candidates, the bigram candidates, bigram and blind-index search — and a change
    /// of the customer replaces them; a bulk commit moves them into the main tables once
    /// due (on an empty database at once).
    async fn rows_aside_are_read_and_replaced(backend: Backend) {
        let Some(t) = TestDb::new(backend).await.unwrap() else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return;
        };
        let sqlite = backend == Backend::Sqlite;
        t.db.write_lookup_rows_aside_from(0);
        let mut tx = t.db.begin().await.unwrap();
        tx.set_bulk();
        let a = create(&mut tx, "L0001", &[7], "华为", "h-a").await;
        let b = create(&mut tx, "L0002", &[7, 8], "华为", "h-b").await;
        let c = create(&mut tx, "L0003", &[9], "中兴", "h-c").await;
        if sqlite {
            // Read inside the transaction: written aside.
            assert_eq!(tx.match_candidates(&[7], 50, 10).await.unwrap().len(), 2);
            assert_eq!(aside(&mut tx).await.len(), 10);
        }
        tx.commit().await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        if sqlite {
            assert!(
                aside(&mut tx).await.is_empty(),
                "not moved into an empty table"
            );
        }
        tx.rollback().await.unwrap();

        // Main tables hold 3 customers now: one more stays aside.
        let mut tx = t.db.begin().await.unwrap();
        tx.set_bulk();
        let d = create(&mut tx, "L0004", &[7], "华为", "h-d").await;
        tx.commit().await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        if sqlite {
            let want: Vec<(String, i64)> = ["b", "g", "m"].map(|k| (k.to_string(), d)).into();
            assert_eq!(aside(&mut tx).await, want);
        }
        let found = tx.match_candidates(&[7], 50, 10).await.unwrap();
        assert_eq!(ids(found.iter().map(|s| s.id).collect()), vec![a, b, d]);
        // A cap per key keeps the newest holders across both tables.
        let found = tx.match_candidates(&[7], 2, 10).await.unwrap();
        assert_eq!(ids(found.iter().map(|s| s.id).collect()), vec![b, d]);
        let grams = tx.name_gram_candidates(&["华为".into()], 10).await.unwrap();
        assert_eq!(ids(grams), vec![a, b, d]);
        let by_gram = tx
            .search_customers(&CustomerFilter {
                name_grams: vec!["华为".into()],
                limit: 10,
                ..CustomerFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(ids(by_gram.iter().map(|r| r.id).collect()), vec![a, b, d]);
        let by_hash = tx
            .search_customers(&CustomerFilter {
                blind: vec![("mobile".into(), vec!["h-d".into()])],
                limit: 10,
                ..CustomerFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(by_hash.iter().map(|r| r.id).collect::<Vec<_>>(), vec![d]);
        assert_eq!(tx.count_match_indexed().await.unwrap(), 4);

        // A change of D replaces its rows wherever they were.
        let changed = CustomerIndexes {
            blind: vec![("mobile".into(), "h-x".into())],
            grams: vec!["中兴".into()],
            match_keys: vec![9],
            ..CustomerIndexes::default()
        };
        tx.replace_customer_indexes(d, &changed, false)
            .await
            .unwrap();
        let mut want: Vec<(String, String, i64)> = vec![
            ("b".into(), "mobile:h-a".into(), a),
            ("b".into(), "mobile:h-b".into(), b),
            ("b".into(), "mobile:h-c".into(), c),
            ("b".into(), "mobile:h-x".into(), d),
            ("g".into(), "中兴".into(), c),
            ("g".into(), "中兴".into(), d),
            ("g".into(), "华为".into(), a),
            ("g".into(), "华为".into(), b),
            ("m".into(), "7".into(), a),
            ("m".into(), "7".into(), b),
            ("m".into(), "8".into(), b),
            ("m".into(), "9".into(), c),
            ("m".into(), "9".into(), d),
        ];
        want.sort();
        assert_eq!(stored(&mut tx).await, want);
        if sqlite {
            assert!(aside(&mut tx).await.is_empty());
        }
        tx.commit().await.unwrap();
        t.cleanup().await;
    }

    /// Below [`ASIDE_FROM`] customers a bulk transaction writes into the main tables.
    #[tokio::test]
    async fn small_databases_write_nothing_aside() {
        let t = TestDb::new(Backend::Sqlite).await.unwrap().unwrap();
        let mut tx = t.db.begin().await.unwrap();
        tx.set_bulk();
        create(&mut tx, "L0001", &[7], "华为", "h-a").await;
        tx.flush_lookups().await.unwrap();
        assert!(aside(&mut tx).await.is_empty());
        assert_eq!(stored(&mut tx).await.len(), 3);
        tx.commit().await.unwrap();
        t.cleanup().await;
    }

    #[tokio::test]
    async fn rows_aside_are_read_and_replaced_sqlite() {
        rows_aside_are_read_and_replaced(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn rows_aside_are_read_and_replaced_postgres() {
        rows_aside_are_read_and_replaced(Backend::Postgres).await;
    }

    /// Rows aside move once their customers reach √(2 · main · batch): never when there
    /// are none, at once into empty tables, later the larger the main tables.
    #[test]
    fn rows_aside_move_when_due() {
        assert!(!due_for_moving(0, 1_000_000, 30_000));
        assert!(due_for_moving(30_000, 30_000, 30_000));
        // 1,000,000 in the main tables, batches of 30,000: due at about 245,000.
        assert!(!due_for_moving(240_000, 1_240_000, 30_000));
        assert!(due_for_moving(250_000, 1_250_000, 30_000));
        // Smaller batches move sooner (each commit rewrites fewer companion pages).
        assert!(due_for_moving(100_000, 1_100_000, 500));
        assert!(!due_for_moving(100, 1_000_100, 1));
    }

    fn grams(g: &[&str]) -> Vec<String> {
        g.iter().map(|g| g.to_string()).collect()
    }

    #[test]
    fn rows_are_written_sorted_and_once() {
        let mut p = PendingLookups::default();
        p.queue(2, &[9, -3], &grams(&["华为", "为技"]), &[]);
        p.queue(1, &[5], &[], &[("mobile".into(), "ab".into())]);
        let out = p.take_unwritten(false);
        assert_eq!(out.len(), 3);
        assert!(out[0]
            .0
            .starts_with("INSERT OR IGNORE INTO customer_match_keys ("));
        assert_eq!(out[0].1, "[[-3,2],[5,1],[9,2]]");
        assert_eq!(out[1].1, r#"[["为技",2],["华为",2]]"#);
        assert_eq!(out[2].1, r#"[["mobile","ab",1]]"#);
        assert!(p.is_written());
        assert!(p.take_unwritten(false).is_empty());
        // Aside, with a record of each customer's rows.
        p.queue(3, &[1], &[], &[]);
        p.queue(
            4,
            &[7, 1],
            &grams(&["中兴"]),
            &[("email".into(), "cd".into())],
        );
        let out = p.take_unwritten(true);
        assert!(out[0]
            .0
            .starts_with("INSERT OR IGNORE INTO customer_match_keys_recent ("));
        assert_eq!(out.len(), 4);
        assert!(out[3]
            .0
            .starts_with("INSERT OR REPLACE INTO lookup_rows_aside ("));
        assert_eq!(
            out[3].1,
            r#"[[3,[[1],[],[]]],[4,[[7,1],["中兴"],[["email","cd"]]]]]"#
        );
    }

    #[test]
    fn a_rollback_requeues_what_was_written_after_the_savepoint() {
        let mut p = PendingLookups::default();
        p.queue(1, &[1], &[], &[]);
        let _ = p.take_unwritten(false);
        p.queue(2, &[2], &[], &[]);
        let savepoint = p.marks();
        p.queue(3, &[3], &[], &[]);
        let out = p.take_unwritten(false);
        assert_eq!(out[0].1, "[[2,2],[3,3]]");
        // The rollback undid that write: row 2 (queued before the savepoint) is due
        // again, row 3 is gone, row 1 (written before the savepoint) stays written.
        p.restore(savepoint);
        assert!(!p.is_written());
        let out = p.take_unwritten(false);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "[[2,2]]");
    }
}
