//! Lookup rows of new customers held back until the transaction needs them (SQLite).
//!
//! A creation adds about twenty match keys, a dozen name bigrams and a few blind-index
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
}

/// The statements writing a list given as a JSON array of rows, in the array's order.
const INSERT_MATCH_KEYS: &str =
    "INSERT OR IGNORE INTO customer_match_keys (key_hash, customer_id) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1)";
const INSERT_GRAMS: &str = "INSERT OR IGNORE INTO customer_name_grams (gram, customer_id) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1)";
const INSERT_BLIND: &str = "INSERT OR IGNORE INTO customer_blind_index (kind, hash, customer_id) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
     json_extract(value, '$[2]') FROM json_each($1)";

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
        self.match_keys.extend(match_keys.iter().map(|k| (*k, id)));
        self.grams.extend(grams.iter().map(|g| (g.clone(), id)));
        self.blind
            .extend(blind.iter().map(|(k, h)| (k.clone(), h.clone(), id)));
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
    /// sorted by the table's key; marks it written.
    pub(crate) fn take_unwritten(&mut self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let w = self.written;
        statements(&mut out, INSERT_MATCH_KEYS, &self.match_keys[w[0]..]);
        statements(&mut out, INSERT_GRAMS, &self.grams[w[1]..]);
        statements(&mut out, INSERT_BLIND, &self.blind[w[2]..]);
        self.written = self.lens();
        out
    }
}

/// `sql` with `rows` sorted (a copy: the queue keeps its order for savepoint marks), as
/// JSON arrays of at most [`CHUNK`] rows.
fn statements<T: Ord + Clone + serde::Serialize>(
    out: &mut Vec<(&'static str, String)>,
    sql: &'static str,
    rows: &[T],
) {
    let mut rows = rows.to_vec();
    rows.sort_unstable();
    for chunk in rows.chunks(CHUNK) {
        // Tuples of strings and integers always serialise (as JSON arrays).
        if let Ok(json) = serde_json::to_string(chunk) {
            out.push((sql, json));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::customer_master::{CustomerIndexes, HistoryRow, NewCustomerWrite};
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
        })
        .await
    }

    /// (table, key, customer id) of every lookup row, sorted.
    async fn stored(tx: &mut Tx) -> Vec<(String, String, i64)> {
        let mut rows: Vec<(String, String, i64)> = crate::on_tx!(tx, |c| sqlx::query_as(
            "SELECT 'm', CAST(key_hash AS TEXT), customer_id FROM customer_match_keys \
             UNION ALL SELECT 'g', gram, customer_id FROM customer_name_grams \
             UNION ALL SELECT 'b', kind || ':' || hash, customer_id FROM customer_blind_index"
        )
        .fetch_all(c)
        .await)
        .unwrap();
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

    fn grams(g: &[&str]) -> Vec<String> {
        g.iter().map(|g| g.to_string()).collect()
    }

    #[test]
    fn rows_are_written_sorted_and_once() {
        let mut p = PendingLookups::default();
        p.queue(2, &[9, -3], &grams(&["华为", "为技"]), &[]);
        p.queue(1, &[5], &[], &[("mobile".into(), "ab".into())]);
        let out = p.take_unwritten();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].1, "[[-3,2],[5,1],[9,2]]");
        assert_eq!(out[1].1, r#"[["为技",2],["华为",2]]"#);
        assert_eq!(out[2].1, r#"[["mobile","ab",1]]"#);
        assert!(p.is_written());
        assert!(p.take_unwritten().is_empty());
    }

    #[test]
    fn a_rollback_requeues_what_was_written_after_the_savepoint() {
        let mut p = PendingLookups::default();
        p.queue(1, &[1], &[], &[]);
        let _ = p.take_unwritten();
        p.queue(2, &[2], &[], &[]);
        let savepoint = p.marks();
        p.queue(3, &[3], &[], &[]);
        let out = p.take_unwritten();
        assert_eq!(out[0].1, "[[2,2],[3,3]]");
        // The rollback undid that write: row 2 (queued before the savepoint) is due
        // again, row 3 is gone, row 1 (written before the savepoint) stays written.
        p.restore(savepoint);
        assert!(!p.is_written());
        let out = p.take_unwritten();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "[[2,2]]");
    }
}
