//! Opening a database, choosing the backend from the URL, and transactions.

mod bulk;
mod cache;
mod checkpoint;
mod handle;
mod inspect;
mod lookup_rows;
mod migrations;
mod open;
mod options;
mod savepoint;
mod tx;
mod upgrade;

pub(crate) use cache::SequenceDraw;
pub use handle::Db;
pub use inspect::{inspect, Inspection};
pub use open::{db_file_name, migrations_of, redact_url};
pub use options::{Backend, DbOptions};
pub(crate) use savepoint::SavepointPrefix;
pub use tx::{Tx, TxConn};
pub use upgrade::{SchemaState, UPGRADE_BACKUP_DIR, WITHOUT_BACKUP_ENV};

#[cfg(test)]
mod tests {
    use crate::on_tx;
    use std::path::Path;
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::open::SQLITE_FILE;
    use super::*;
    use crate::error::{StoreError, StoreResult};

    /// The pages of a bulk commit reach the database file without the writer
    /// checkpointing: about 100 pages stay below the writer's own mark, so only the
    /// background checkpointer can have copied them. The next transaction lowers the
    /// writer's mark again. Closing right after a commit does not hang.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bulk_commits_are_checkpointed_in_the_background(
    ) -> Result<(), Box<dyn std::error::Error>> {
        async fn mark(tx: &mut Tx) -> StoreResult<i64> {
            let TxConn::Sqlite(t) = &mut tx.conn else {
                return Err(StoreError::Other("not SQLite".into()));
            };
            Ok(sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut **t)
                .await?)
        }
        let dir = tempfile::tempdir()?;
        let db = Db::open(&DbOptions::sqlite(dir.path())).await?;
        let file = dir.path().join(SQLITE_FILE);
        let before = std::fs::metadata(&file)?.len();
        let mut tx = db.begin().await?;
        tx.set_bulk();
        on_tx!(tx, |c| sqlx::raw_sql(
            "CREATE TABLE filler (v TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
             INSERT INTO filler SELECT hex(randomblob(1000)) FROM n;"
        )
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        assert_eq!(mark(&mut tx).await?, 1000);
        tx.commit().await?;
        let mut grown = false;
        for _ in 0..100 {
            if std::fs::metadata(&file)?.len() > before + 300_000 {
                grown = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            grown,
            "the database file did not receive the committed pages"
        );
        let mut tx = db.begin().await?;
        assert_eq!(
            mark(&mut tx).await?,
            1000,
            "the writer's mark stayed raised"
        );
        on_tx!(tx, |c| sqlx::query("INSERT INTO filler VALUES ('x')")
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        tokio::time::timeout(Duration::from_secs(10), db.close()).await?;
        Ok(())
    }

    /// A SQLite database in `dir` made by the migrations before `before`, holding what
    /// `seed` wrote then, opened as a database of today (so migrated the rest of the way).
    async fn migrated_after(
        dir: &Path,
        before: i64,
        seed: &[&str],
    ) -> Result<Db, Box<dyn std::error::Error>> {
        let file = dir.join(SQLITE_FILE);
        let opts = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        migrations::migrations_before(Backend::Sqlite, before)
            .run(&pool)
            .await?;
        for sql in seed {
            sqlx::query(sql).execute(&pool).await?;
        }
        pool.close().await;
        Ok(Db::open(&DbOptions {
            database_url: Some(format!("sqlite:{}", file.display())),
            ..DbOptions::sqlite(dir)
        })
        .await?)
    }

    /// Names that differ only in case, possible before migration 0014, cannot share one
    /// case-insensitive key: the oldest keeps its name, the newer become NAME-ID, and the
    /// database opens.
    #[tokio::test]
    async fn case_duplicate_usernames_are_renamed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let seed = [
            "INSERT INTO users (id, username, display_name, password_hash, created_at, \
             updated_at) VALUES (1, 'admin', 'a', 'h', 1, 1), (5, 'Admin', 'b', 'h', 1, 1), \
             (9, 'ADMIN', 'c', 'h', 1, 1), (10, 'Lucy', 'd', 'h', 1, 1)",
        ];
        let db = migrated_after(dir.path(), 14, &seed).await?;
        let mut tx = db.begin().await?;
        let mut names = Vec::new();
        for id in [1, 5, 9, 10] {
            let u = tx.user(id).await?.ok_or("user missing")?;
            names.push(u.username);
        }
        assert_eq!(names, ["admin", "Admin-5", "ADMIN-9", "Lucy"]);
        // Lookups ignore case; the renamed accounts are reachable by their new names.
        assert_eq!(tx.user_by_name("ADMIN").await?.map(|u| u.id), Some(1));
        assert_eq!(tx.user_by_name("admin-5").await?.map(|u| u.id), Some(5));
        assert_eq!(tx.user_by_name("lucy").await?.map(|u| u.id), Some(10));
        tx.rollback().await?;
        Ok(())
    }

    /// A database made before migration 0009 keeps every lookup row when the lookup
    /// tables are rebuilt without rowids and without the foreign key.
    #[tokio::test]
    async fn lookup_tables_survive_the_rebuild() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let seed = [
            "INSERT INTO customers (id, code, customer_type, name, name_key, status, data, \
             created_at, updated_at) VALUES (7, 'C0007', 'enterprise', '华为', '华为', \
             'active', '{}', 1, 1)",
            "INSERT INTO customer_name_grams (gram, customer_id) VALUES ('华为', 7)",
            "INSERT INTO customer_match_keys (key_hash, customer_id) VALUES (-42, 7), (42, 7)",
            "INSERT INTO customer_blind_index (customer_id, kind, hash) \
             VALUES (7, 'mobile', 'h1'), (7, 'email', 'h2')",
            "INSERT INTO customer_tags (customer_id, tag) VALUES (7, 'vip')",
            "INSERT INTO customer_field_values (customer_id, key, value) VALUES (7, 'k', 'v')",
        ];
        let db = migrated_after(dir.path(), 9, &seed).await?;
        let mut tx = db.begin().await?;
        let TxConn::Sqlite(c) = &mut tx.conn else {
            return Err("expected SQLite".into());
        };
        for (table, rows) in [
            ("customer_name_grams", 1),
            ("customer_match_keys", 2),
            ("customer_blind_index", 2),
            ("customer_tags", 1),
            ("customer_field_values", 1),
        ] {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE customer_id = 7"
            ))
            .fetch_one(&mut **c)
            .await?;
            assert_eq!(n, rows, "{table}");
            let ddl: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
                .bind(table)
                .fetch_one(&mut **c)
                .await?;
            assert!(ddl.contains("WITHOUT ROWID"), "{table}: {ddl}");
            assert!(!ddl.contains("REFERENCES"), "{table}: {ddl}");
        }
        let stamp: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers INDEXED BY customers_stamp WHERE id = 7",
        )
        .fetch_one(&mut **c)
        .await?;
        assert_eq!(stamp, 1);
        tx.rollback().await?;
        Ok(())
    }

    /// A database of an earlier version is copied before its pending migrations run; the
    /// copy keeps the old schema and the data. A database already current takes no copy.
    #[tokio::test]
    async fn an_upgrade_keeps_a_copy_of_the_old_database() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let seed = [
            "INSERT INTO users (id, username, display_name, password_hash, created_at, \
             updated_at) VALUES (1, 'admin', 'a', 'h', 1, 1)",
        ];
        let db = migrated_after(dir.path(), 30, &seed).await?;
        db.close().await;
        let copies: Vec<_> = std::fs::read_dir(dir.path().join(upgrade::UPGRADE_BACKUP_DIR))?
            .collect::<Result<_, _>>()?;
        assert_eq!(copies.len(), 1);
        let copy = copies[0].path();
        let name = copy
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(name.starts_with("custos-before-0029-to-"), "{name}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&copy)?.permissions().mode() & 0o777,
            0o600
        );
        let pool = SqlitePoolOptions::new()
            .connect_with(SqliteConnectOptions::new().filename(&copy))
            .await?;
        let top: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        assert_eq!((top, users), (29, 1));
        // Opened again: nothing is due, no second copy.
        let db = Db::open(&DbOptions {
            database_url: Some(format!("sqlite:{}", dir.path().join(SQLITE_FILE).display())),
            ..DbOptions::sqlite(dir.path())
        })
        .await?;
        db.close().await;
        let count = std::fs::read_dir(dir.path().join(upgrade::UPGRADE_BACKUP_DIR))?.count();
        assert_eq!(count, 1);
        Ok(())
    }

    /// A database that a newer version migrated further is refused before anything runs,
    /// with a message that says so.
    #[tokio::test]
    async fn a_database_of_a_newer_version_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        Db::open(&DbOptions::sqlite(dir.path()))
            .await?
            .close()
            .await;
        let file = dir.path().join(SQLITE_FILE);
        let pool = SqlitePoolOptions::new()
            .connect_with(SqliteConnectOptions::new().filename(&file))
            .await?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (9999, 'from the future', TRUE, x'00', 0)",
        )
        .execute(&pool)
        .await?;
        pool.close().await;
        let err = match Db::open(&DbOptions::sqlite(dir.path())).await {
            Ok(_) => return Err("a newer database was opened".into()),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("9999") && err.contains("newer custos"),
            "{err}"
        );
        assert!(!dir.path().join(upgrade::UPGRADE_BACKUP_DIR).exists());
        Ok(())
    }

    /// On PostgreSQL the copy is a `pg_dump` of the schema in use, in the data directory.
    #[tokio::test]
    async fn postgres_upgrade_keeps_a_dump_of_the_old_schema(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let Some((opts, _)) = DbOptions::fresh(
            Backend::Postgres,
            std::env::var("CUSTOS_TEST_PG_URL").ok().as_deref(),
        ) else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return Ok(());
        };
        let schema = opts.pg_schema.clone().ok_or("no schema")?;
        let url = opts.database_url.clone().ok_or("no url")?;
        let admin = sqlx::PgPool::connect(&url).await?;
        sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
            .execute(&admin)
            .await?;
        let connect = url
            .parse::<sqlx::postgres::PgConnectOptions>()?
            .options([("search_path", schema.as_str())]);
        let pool = sqlx::PgPool::connect_with(connect).await?;
        // The schema as an earlier version left it: migrations before 0030.
        migrations::migrations_before(Backend::Postgres, 30)
            .run(&pool)
            .await?;
        pool.close().await;

        let data = tempfile::tempdir()?;
        let db = Db::open(&DbOptions {
            data_dir: data.path().to_path_buf(),
            ..opts
        })
        .await?;
        db.close().await;
        let copies: Vec<_> = std::fs::read_dir(data.path().join(upgrade::UPGRADE_BACKUP_DIR))?
            .collect::<Result<_, _>>()?;
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&admin)
            .await?;
        assert_eq!(copies.len(), 1);
        let copy = copies[0].path();
        let name = copy
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            name.starts_with("custos-before-0029-to-") && name.ends_with(".dump"),
            "{name}"
        );
        // A custom-format dump starts with PGDMP.
        let head = std::fs::read(&copy)?;
        assert!(head.starts_with(b"PGDMP"), "not a pg_dump archive");
        Ok(())
    }

    /// PostgreSQL migration 0009 drops the foreign keys of the lookup tables (as SQLite's
    /// 0009 did) and keeps the others that point at customers.
    #[tokio::test]
    async fn postgres_lookup_tables_have_no_foreign_keys() -> Result<(), Box<dyn std::error::Error>>
    {
        let Some(t) = crate::testing::TestDb::new(Backend::Postgres).await? else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return Ok(());
        };
        let mut tx = t.db.begin().await?;
        let TxConn::Pg(c) = &mut tx.conn else {
            return Err("expected PostgreSQL".into());
        };
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT t.relname::text, COUNT(c.oid) FROM pg_class t \
             LEFT JOIN pg_constraint c ON c.conrelid = t.oid AND c.contype = 'f' \
             WHERE t.relnamespace = current_schema()::regnamespace AND t.relkind = 'r' \
             AND t.relname IN ('customer_name_grams', 'customer_match_keys', \
             'customer_blind_index', 'customer_tags', 'customer_field_values', \
             'customer_history', 'customer_xrefs') GROUP BY t.relname ORDER BY 1",
        )
        .fetch_all(&mut **c)
        .await?;
        tx.rollback().await?;
        t.cleanup().await;
        assert_eq!(rows.len(), 7, "{rows:?}");
        for (table, fks) in rows {
            let kept = table == "customer_history" || table == "customer_xrefs";
            assert_eq!(fks > 0, kept, "{table}: {fks} foreign keys");
        }
        Ok(())
    }
    /// After a bulk write of 10,000 or more customers, PostgreSQL's customer table is
    /// vacuumed and analysed (a smaller write leaves that to autovacuum), and its list
    /// index carries `id`, so a list page can be ranked from the index alone. Whether
    /// vacuum may mark the new rows all-visible depends on transactions of other tests
    /// still running, so that is not asserted here; `custos bench lookup` shows it.
    #[tokio::test]
    async fn postgres_tables_are_tidied_after_a_bulk_write(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let Some(t) = crate::testing::TestDb::new(Backend::Postgres).await? else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return Ok(());
        };
        let Db::Postgres { pool, .. } = &t.db else {
            return Err("expected PostgreSQL".into());
        };
        sqlx::query(
            "INSERT INTO customers (code, customer_type, name, name_key, status, region_code, \
             level, data, created_at, updated_at) \
             SELECT 'C' || g, 'enterprise', '客户' || g, '客户' || g, 'active', \
             (ARRAY['110105', '310104', '440305', '510104'])[g % 4 + 1], \
             (ARRAY['A', 'B', 'C'])[g % 3 + 1], '{}', 0, 0 FROM generate_series(1, 2000) AS g",
        )
        .execute(pool)
        .await?;
        let state = || async {
            sqlx::query_scalar::<_, f32>(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass('customers')",
            )
            .fetch_one(pool)
            .await
        };
        t.db.after_bulk_write(9_999).await;
        let before = state().await?;
        t.db.after_bulk_write(10_000).await;
        let after = state().await?;
        let index: String = sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexname = 'customers_type_status_region_level'",
        )
        .fetch_one(pool)
        .await?;
        t.cleanup().await;
        assert_eq!(before, -1.0, "small writes are left alone");
        assert_eq!(after, 2000.0, "vacuumed and analysed");
        assert!(index.ends_with("INCLUDE (id)"), "{index}");
        Ok(())
    }

    /// Rows a database made before migration 0012 holds aside get their record, and a
    /// change of the customer then deletes them from the companions by key (no index on
    /// the customer id is left there), leaving another customer's rows alone.
    #[tokio::test]
    async fn rows_aside_before_their_records_can_still_be_replaced(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let seed = [
            "INSERT INTO customers (id, code, customer_type, name, name_key, status, data, \
             created_at, updated_at) VALUES (7, 'C0007', 'enterprise', '华为', '华为', \
             'active', '{}', 1, 1), (8, 'C0008', 'enterprise', '中兴', '中兴', 'active', \
             '{}', 1, 1)",
            "INSERT INTO customer_name_grams_recent (gram, customer_id) \
             VALUES ('华为', 7), ('中兴', 8)",
            "INSERT INTO customer_match_keys_recent (key_hash, customer_id) \
             VALUES (-42, 7), (42, 7), (42, 8)",
            "INSERT INTO customer_blind_index_recent (customer_id, kind, hash) \
             VALUES (7, 'mobile', 'h1'), (7, 'email', 'h2'), (8, 'mobile', 'h1')",
        ];
        let db = migrated_after(dir.path(), 12, &seed).await?;
        let mut tx = db.begin().await?;
        let indexes = crate::customer_master::CustomerIndexes {
            match_keys: vec![5],
            grams: vec!["华技".into()],
            blind: vec![("mobile".into(), "h9".into())],
            ..Default::default()
        };
        tx.replace_customer_indexes(7, &indexes, false).await?;
        let TxConn::Sqlite(c) = &mut tx.conn else {
            return Err("expected SQLite".into());
        };
        let left: Vec<(String, i64)> = sqlx::query_as(
            "SELECT 'm' || key_hash, customer_id FROM customer_match_keys_recent \
             UNION ALL SELECT 'g' || gram, customer_id FROM customer_name_grams_recent \
             UNION ALL SELECT 'b' || kind || hash, customer_id FROM customer_blind_index_recent \
             UNION ALL SELECT 'M' || key_hash, customer_id FROM customer_match_keys \
             UNION ALL SELECT 'G' || gram, customer_id FROM customer_name_grams \
             UNION ALL SELECT 'B' || kind || hash, customer_id FROM customer_blind_index \
             ORDER BY 1, 2",
        )
        .fetch_all(&mut **c)
        .await?;
        let want: Vec<(String, i64)> = [
            ("Bmobileh9", 7),
            ("G华技", 7),
            ("M5", 7),
            ("bmobileh1", 8),
            ("g中兴", 8),
            ("m42", 8),
        ]
        .map(|(k, id)| (k.to_string(), id))
        .into();
        assert_eq!(left, want);
        let indexed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE '%_recent'",
        )
        .fetch_one(&mut **c)
        .await?;
        assert_eq!(indexed, 0, "companions keep an index besides their keys");
        tx.rollback().await?;
        Ok(())
    }
}
