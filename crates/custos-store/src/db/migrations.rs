//! The migrations each backend applies: its own folder (`migrations/sqlite`,
//! `migrations/postgres`) and the texts both run unchanged, kept once in
//! `migrations/shared/` and listed in [`SHARED`] with the version each backend gives them.
//!
//! A database records every applied migration's version and checksum (SHA-384 of the
//! text) and refuses to start when an applied one changed, so a shared text keeps the
//! versions, description and bytes it had as two files: the lists are compared with
//! `migrations/checksums-*.txt` by a test. (A list in code rather than links from both
//! folders: not every checkout, archive or packaging step keeps symbolic links.)

use std::borrow::Cow;
use std::sync::LazyLock;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::options::Backend;

/// A migration text both backends run unchanged, with its version in each.
struct Shared {
    sqlite: i64,
    postgres: i64,
    /// File name in `migrations/shared/` without `.sql`; with `_` as spaces it is the
    /// description, as for a file `NNNN_<name>.sql` in a backend's folder.
    name: &'static str,
    sql: &'static str,
}

macro_rules! shared {
    ($($sqlite:literal, $postgres:literal, $name:literal;)*) => {
        &[$(Shared {
            sqlite: $sqlite,
            postgres: $postgres,
            name: $name,
            sql: include_str!(concat!("../../migrations/shared/", $name, ".sql")),
        },)*]
    };
}

/// The shared texts: SQLite version, PostgreSQL version, name.
const SHARED: &[Shared] = shared! {
    8, 8, "list_level_index";
    11, 11, "unused_customer_indexes";
    13, 12, "audit_key";
    15, 14, "application_needs_admin";
    18, 17, "browser_sessions";
    19, 18, "owner_recent_index";
    21, 19, "duplicate_queue";
    22, 20, "import_sample_checks";
    23, 21, "import_saved_mappings";
    25, 23, "application_target";
    28, 26, "code_registry_issued";
    29, 27, "customer_parents";
    37, 35, "event_relays";
    39, 37, "channel_active";
    40, 38, "import_duplicate_groups";
};

static SQLITE_OWN: Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_OWN: Migrator = sqlx::migrate!("./migrations/postgres");

/// Every migration of SQLite databases, in order.
pub(super) static SQLITE_MIGRATIONS: LazyLock<Migrator> =
    LazyLock::new(|| with_shared(&SQLITE_OWN, |s| s.sqlite));
/// Every migration of PostgreSQL databases, in order.
pub(super) static PG_MIGRATIONS: LazyLock<Migrator> =
    LazyLock::new(|| with_shared(&PG_OWN, |s| s.postgres));

/// The migrator of `backend`.
pub(super) fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &PG_MIGRATIONS,
    }
}

/// A backend's own migrations with the shared ones inserted at their versions.
fn with_shared(own: &Migrator, version: fn(&Shared) -> i64) -> Migrator {
    let mut migrations: Vec<Migration> = own.iter().cloned().collect();
    migrations.extend(SHARED.iter().map(|s| {
        // As sqlx reads a file `NNNN_<name>.sql`: checksum over the same bytes.
        Migration::new(
            version(s),
            Cow::Owned(s.name.replace('_', " ")),
            MigrationType::Simple,
            Cow::Borrowed(s.sql),
            s.sql.starts_with("-- no-transaction"),
        )
    }));
    migrations.sort_by_key(|m| m.version);
    Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: own.ignore_missing,
        locking: own.locking,
        no_tx: own.no_tx,
    }
}

/// The migrations of `backend` before `version`: a database as an earlier release left it.
#[cfg(test)]
pub(super) fn migrations_before(backend: Backend, version: i64) -> Migrator {
    let all = migrator(backend);
    Migrator {
        migrations: Cow::Owned(
            all.iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ignore_missing: all.ignore_missing,
        locking: all.locking,
        no_tx: all.no_tx,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    fn listed(backend: Backend) -> String {
        migrator(backend)
            .iter()
            .map(|m| {
                format!(
                    "{:04} {} {}\n",
                    m.version,
                    hex::encode(&m.checksum),
                    m.description
                )
            })
            .collect()
    }

    /// Databases already migrated keep opening: each backend carries the versions,
    /// descriptions and checksums it carried when every text was a file of its folder.
    #[test]
    fn each_backend_keeps_its_versions_and_checksums() {
        assert_eq!(
            listed(Backend::Sqlite),
            include_str!("../../migrations/checksums-sqlite.txt")
        );
        assert_eq!(
            listed(Backend::Postgres),
            include_str!("../../migrations/checksums-postgres.txt")
        );
    }

    /// Each version once per backend, in order.
    #[test]
    fn versions_are_distinct() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let versions: Vec<i64> = migrator(backend).iter().map(|m| m.version).collect();
            assert!(
                versions.windows(2).all(|w| w[0] < w[1]),
                "{backend:?}: {versions:?}"
            );
        }
    }

    /// The `.sql` files of `dir` under the migrations folder: name → text.
    fn texts(dir: &str) -> BTreeMap<String, Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        let mut out = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.ends_with(".sql") {
                let text = std::fs::read(&path).expect("read");
                out.insert(name.to_string(), text);
            }
        }
        out
    }

    /// Every file of `migrations/shared/` is in [`SHARED`] (else it would never run).
    #[test]
    fn every_shared_file_is_listed() {
        let files: Vec<String> = texts("shared").into_keys().collect();
        let mut names: Vec<String> = SHARED.iter().map(|s| format!("{}.sql", s.name)).collect();
        names.sort();
        assert_eq!(files, names);
    }

    /// A text both backends run unchanged is kept once, in `migrations/shared/`.
    #[test]
    fn no_migration_text_is_kept_twice() {
        let sqlite = texts("sqlite");
        let postgres = texts("postgres");
        let shared = texts("shared");
        for (a, text) in &sqlite {
            for (b, other) in postgres.iter().chain(&shared) {
                assert!(text != other, "sqlite/{a} is the same text as {b}");
            }
        }
        for (a, text) in &postgres {
            for (b, other) in &shared {
                assert!(text != other, "postgres/{a} is the same text as shared/{b}");
            }
        }
    }
}
