//! The statement that writes a new customer, generated from one declaration.
//!
//! [`PARTS`] lists what a new customer writes: each table, its columns and where each
//! column's value comes from (a named parameter, the new id, an element of a JSON list,
//! a constant). Both backends' texts are built from it once, and the parameters are
//! numbered by their first use in it; [`bind_new_customer`] binds them in that same
//! order, each from the value its name stands for. A column is added in one place (a
//! parameter in `new_customer_params!` and its column in [`PARTS`]), not renumbered by
//! hand in two texts and a binder.

use std::sync::OnceLock;

use crate::audit::ChainPlace;
use crate::db::SavepointPrefix;
use crate::{AuditRecord, CodeRow, CustomerRow, QualityRow};

use super::history::HistoryRow;

/// What [`Tx::insert_new_customer`](crate::Tx::insert_new_customer) writes. The code
/// registry entry and the history entry get the new customer's id from the store.
pub struct NewCustomerWrite<'a> {
    pub row: &'a CustomerRow,
    /// `YYYY-MM` of creation in the business time zone.
    pub created_month: &'a str,
    pub code: &'a CodeRow,
    pub indexes: &'a super::indexes::CustomerIndexes,
    pub history: &'a HistoryRow,
    pub audit: &'a AuditRecord,
    /// The new customer's quality (its `customer_id` is filled in by the store).
    pub quality: &'a QualityRow,
}

/// Everything a new customer's statement is bound from. The JSON lists arrive prepared;
/// `blind`, `grams` and `match_keys` are empty on SQLite, which writes those rows aside
/// (see `lookups`) and whose text does not use them.
pub(super) struct NewCustomerBinds<'b> {
    pub(super) row: &'b CustomerRow,
    pub(super) created_month: &'b str,
    pub(super) code: &'b CodeRow,
    pub(super) history: &'b HistoryRow,
    pub(super) audit: &'b AuditRecord,
    pub(super) place: &'b ChainPlace,
    pub(super) quality: &'b QualityRow,
    pub(super) blind: String,
    pub(super) tags: String,
    pub(super) grams: String,
    pub(super) fields: String,
    pub(super) match_keys: String,
}

type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>;

/// Declares the parameters (`P`), each with the value it is bound from, and the binder
/// that follows the order [`PARTS`] gives them. Values are owned: a write sent ahead
/// outlives the caller's borrow.
macro_rules! new_customer_params {
    ($v:ident; $($p:ident => $e:expr,)*) => {
        /// A named parameter of the new-customer statement.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum P { $($p,)* }

        impl P {
            /// Every parameter, in declaration order.
            #[cfg(test)]
            const ALL: &'static [P] = &[$(P::$p,)*];

            /// The expression the parameter is bound from, as written.
            #[cfg(test)]
            fn source(self) -> &'static str {
                match self { $(P::$p => stringify!($e),)* }
            }
        }

        /// Bind every parameter of [`NewCustomerSql`] in its numbering order, then (SQLite)
        /// the new id as the last one.
        pub(super) fn bind_new_customer<'q, DB>(
            mut q: Query<'q, DB>,
            $v: &NewCustomerBinds<'_>,
            new_id: Option<i64>,
        ) -> Query<'q, DB>
        where
            DB: sqlx::Database,
            String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
            Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
            i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
            Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
            bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
            f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        {
            for p in &new_customer_sql().params {
                q = match p { $(P::$p => q.bind($e),)* };
            }
            match new_id {
                Some(id) => q.bind(id),
                None => q,
            }
        }
    };
}

new_customer_params! { v;
    Code => v.row.code.clone(),
    CustomerType => v.row.customer_type.clone(),
    Name => v.row.name.clone(),
    NameKey => v.row.name_key.clone(),
    Status => v.row.status.clone(),
    Uscc => v.row.uscc.clone(),
    RegionCode => v.row.region_code.clone(),
    Industry => v.row.industry.clone(),
    Level => v.row.level.clone(),
    OwnerId => v.row.owner_id,
    DepartmentId => v.row.department_id,
    Data => v.row.data.clone(),
    CreatedBy => v.row.created_by,
    CreatedAt => v.row.created_at,
    CreatedMonth => v.created_month.to_string(),
    RuleKey => v.code.rule_key.clone(),
    RuleVersion => v.code.rule_version,
    Scope => v.code.scope.clone(),
    Seq => v.code.seq,
    Manual => v.code.manual,
    CodeStatus => v.code.status.clone(),
    RedirectTo => v.code.redirect_to.clone(),
    IssuedAt => v.code.issued_at,
    IssuedBy => v.code.issued_by,
    CodeReason => v.code.reason.clone(),
    Blind => v.blind.clone(),
    Tags => v.tags.clone(),
    Grams => v.grams.clone(),
    Fields => v.fields.clone(),
    MatchKeys => v.match_keys.clone(),
    HistoryVersion => v.history.row_version,
    HistoryAt => v.history.at,
    HistoryActorId => v.history.actor_id,
    HistoryActorName => v.history.actor_name.clone(),
    HistoryAction => v.history.action.clone(),
    HistoryReason => v.history.reason.clone(),
    HistoryChanges => v.history.changes.clone(),
    HistorySnapshot => v.history.snapshot.clone(),
    AuditSeq => v.place.seq,
    AuditAt => v.audit.at,
    AuditActorId => v.audit.actor_id,
    AuditActorName => v.audit.actor_name.clone(),
    AuditSource => v.audit.source.clone(),
    AuditAction => v.audit.action.clone(),
    AuditTargetType => v.audit.target_type.clone(),
    AuditTargetId => v.audit.target_id.clone(),
    AuditBefore => v.audit.before.clone(),
    AuditAfter => v.audit.after.clone(),
    AuditReason => v.audit.reason.clone(),
    AuditRequestId => v.audit.request_id.clone(),
    AuditIp => v.audit.ip.clone(),
    AuditPrevHash => v.place.prev_hash.clone(),
    AuditHash => v.place.hash.clone(),
    AuditKeyId => v.place.key_id.clone(),
    Score => v.quality.score,
    Completeness => v.quality.completeness,
    Validity => v.quality.validity,
    Consistency => v.quality.consistency,
    Timeliness => v.quality.timeliness,
    Uniqueness => v.quality.uniqueness,
    Failing => v.quality.failing.clone(),
    ComputedAt => v.quality.computed_at,
}

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy)]
enum V {
    /// A named parameter (one number however often it is used).
    P(P),
    /// The new customer's id: a parameter after all named ones on SQLite (the id is known
    /// in advance), the `c` part's `RETURNING id` on PostgreSQL.
    NewId,
    /// Field `n` of each element of the part's JSON list of arrays.
    Item(u8),
    /// Each element of the part's JSON list of scalars.
    Elem,
    /// A constant written into the text.
    Const(&'static str),
}

/// What a JSON list's elements are.
#[derive(Debug, Clone, Copy)]
enum List {
    /// Arrays, one per row (single columns as one-element arrays).
    Arrays,
    /// Text values.
    Texts,
    /// Integers (PostgreSQL reads them as text and casts).
    BigInts,
}

/// How many rows a part writes and how.
#[derive(Debug, Clone, Copy)]
enum Rows {
    /// The customer row itself; its id column is left to PostgreSQL's sequence there.
    Customer,
    /// One row of the listed values.
    One,
    /// An UPDATE of the listed columns of the rows matching the condition.
    Update(&'static str),
    /// One row per element of a JSON list parameter.
    Each(P, List),
    /// [`Rows::Each`] into a lookup table from a deduplicated list: SQLite inserts with
    /// INSERT OR IGNORE, which needs no statement journal (migration 0009).
    Lookup(P, List),
}

/// One table a new customer writes.
struct Part {
    /// The part's name as a common table expression on PostgreSQL.
    cte: &'static str,
    table: &'static str,
    rows: Rows,
    cols: &'static [(&'static str, V)],
    /// False: SQLite queues these rows in the transaction instead (see `lookups`).
    on_sqlite: bool,
}

use V::{Const, Elem, Item, NewId};

/// What a new customer writes, in order: the row, its code's registry entry, the lookup
/// rows, the first history entry, the audit entry and the audit head, the quality.
const PARTS: &[Part] = &[
    Part {
        cte: "c",
        table: "customers",
        rows: Rows::Customer,
        cols: &[
            ("id", NewId),
            ("code", V::P(P::Code)),
            ("customer_type", V::P(P::CustomerType)),
            ("name", V::P(P::Name)),
            ("name_key", V::P(P::NameKey)),
            ("status", V::P(P::Status)),
            ("uscc", V::P(P::Uscc)),
            ("region_code", V::P(P::RegionCode)),
            ("industry", V::P(P::Industry)),
            ("level", V::P(P::Level)),
            ("owner_id", V::P(P::OwnerId)),
            ("department_id", V::P(P::DepartmentId)),
            ("data", V::P(P::Data)),
            ("created_by", V::P(P::CreatedBy)),
            ("created_at", V::P(P::CreatedAt)),
            ("updated_at", V::P(P::CreatedAt)),
            ("row_version", Const("1")),
            ("created_month", V::P(P::CreatedMonth)),
        ],
        on_sqlite: true,
    },
    Part {
        cte: "r",
        table: "code_registry",
        rows: Rows::One,
        cols: &[
            ("code", V::P(P::Code)),
            ("customer_id", NewId),
            ("rule_key", V::P(P::RuleKey)),
            ("rule_version", V::P(P::RuleVersion)),
            ("scope", V::P(P::Scope)),
            ("seq", V::P(P::Seq)),
            ("manual", V::P(P::Manual)),
            ("status", V::P(P::CodeStatus)),
            ("redirect_to", V::P(P::RedirectTo)),
            ("issued_at", V::P(P::IssuedAt)),
            ("issued_by", V::P(P::IssuedBy)),
            ("reason", V::P(P::CodeReason)),
        ],
        on_sqlite: true,
    },
    Part {
        cte: "b",
        table: "customer_blind_index",
        rows: Rows::Lookup(P::Blind, List::Arrays),
        cols: &[("customer_id", NewId), ("kind", Item(0)), ("hash", Item(1))],
        on_sqlite: false,
    },
    Part {
        cte: "t",
        table: "customer_tags",
        rows: Rows::Lookup(P::Tags, List::Arrays),
        cols: &[("customer_id", NewId), ("tag", Item(0))],
        on_sqlite: true,
    },
    Part {
        cte: "g",
        table: "customer_name_grams",
        rows: Rows::Lookup(P::Grams, List::Arrays),
        cols: &[("customer_id", NewId), ("gram", Item(0))],
        on_sqlite: false,
    },
    Part {
        cte: "f",
        table: "customer_field_values",
        rows: Rows::Lookup(P::Fields, List::Arrays),
        cols: &[("customer_id", NewId), ("key", Item(0)), ("value", Item(1))],
        on_sqlite: true,
    },
    Part {
        cte: "m",
        table: "customer_match_keys",
        rows: Rows::Lookup(P::MatchKeys, List::BigInts),
        cols: &[("key_hash", Elem), ("customer_id", NewId)],
        on_sqlite: false,
    },
    Part {
        cte: "h",
        table: "customer_history",
        rows: Rows::One,
        cols: &[
            ("customer_id", NewId),
            ("row_version", V::P(P::HistoryVersion)),
            ("at", V::P(P::HistoryAt)),
            ("actor_id", V::P(P::HistoryActorId)),
            ("actor_name", V::P(P::HistoryActorName)),
            ("action", V::P(P::HistoryAction)),
            ("reason", V::P(P::HistoryReason)),
            ("changes", V::P(P::HistoryChanges)),
            ("snapshot", V::P(P::HistorySnapshot)),
        ],
        on_sqlite: true,
    },
    Part {
        cte: "a",
        table: "audit_log",
        rows: Rows::One,
        cols: &[
            ("seq", V::P(P::AuditSeq)),
            ("at", V::P(P::AuditAt)),
            ("actor_id", V::P(P::AuditActorId)),
            ("actor_name", V::P(P::AuditActorName)),
            ("source", V::P(P::AuditSource)),
            ("action", V::P(P::AuditAction)),
            ("target_type", V::P(P::AuditTargetType)),
            ("target_id", V::P(P::AuditTargetId)),
            ("before_json", V::P(P::AuditBefore)),
            ("after_json", V::P(P::AuditAfter)),
            ("reason", V::P(P::AuditReason)),
            ("request_id", V::P(P::AuditRequestId)),
            ("ip", V::P(P::AuditIp)),
            ("prev_hash", V::P(P::AuditPrevHash)),
            ("hash", V::P(P::AuditHash)),
            ("key_id", V::P(P::AuditKeyId)),
        ],
        on_sqlite: true,
    },
    Part {
        cte: "head",
        table: "audit_head",
        rows: Rows::Update("id = 1"),
        cols: &[("seq", V::P(P::AuditSeq)), ("hash", V::P(P::AuditHash))],
        on_sqlite: true,
    },
    Part {
        cte: "q",
        table: "customer_quality",
        rows: Rows::One,
        cols: &[
            ("customer_id", NewId),
            ("score", V::P(P::Score)),
            ("completeness", V::P(P::Completeness)),
            ("validity", V::P(P::Validity)),
            ("consistency", V::P(P::Consistency)),
            ("timeliness", V::P(P::Timeliness)),
            ("uniqueness", V::P(P::Uniqueness)),
            ("failing", V::P(P::Failing)),
            ("computed_at", V::P(P::ComputedAt)),
            ("customer_version", Const("1")),
        ],
        on_sqlite: true,
    },
    Part {
        cte: "qf",
        table: "customer_quality_failures",
        rows: Rows::Each(P::Failing, List::Texts),
        cols: &[("rule_key", Elem), ("customer_id", NewId)],
        on_sqlite: true,
    },
];

/// The texts of the new-customer statement and the order of its parameters. Lists arrive
/// as JSON arrays (one-element arrays for single columns), so the texts never change and
/// each stays a cached prepared statement.
pub(super) struct NewCustomerSql {
    /// The named parameters by number: `params[0]` is `$1`.
    params: Vec<P>,
    /// SQLite: one script of statements, without a savepoint prefix, then beginning with
    /// each one (see [`SavepointPrefix`]). The new id is its last parameter (known in
    /// advance: see `WriteCache::next_customer_id`), so the script returns nothing and
    /// can be sent ahead (`Tx::send_behind`). The match keys, name bigrams and
    /// blind-index hashes are not written here but queued in the transaction (see
    /// `lookups`); their parameters keep their numbers and are bound empty.
    sqlite: [String; 3],
    /// PostgreSQL: one statement of data-modifying common table expressions, returning
    /// the new id from the `c` part. Foreign keys are checked at the end of the
    /// statement, when the customer row is there.
    pub(super) pg: String,
}

impl NewCustomerSql {
    /// The SQLite script to run under `prefix`.
    pub(super) fn sqlite(&self, prefix: SavepointPrefix) -> &str {
        let [none, open, renew] = &self.sqlite;
        match prefix {
            SavepointPrefix::None => none,
            SavepointPrefix::Open => open,
            SavepointPrefix::Renew => renew,
        }
    }
}

/// The texts, built on first use and kept, so each stays one cached prepared statement.
pub(super) fn new_customer_sql() -> &'static NewCustomerSql {
    static SQL: OnceLock<NewCustomerSql> = OnceLock::new();
    SQL.get_or_init(|| {
        let params = numbered_params();
        let script = sqlite_script(&params);
        let sqlite = [
            SavepointPrefix::None,
            SavepointPrefix::Open,
            SavepointPrefix::Renew,
        ]
        .map(|p| format!("{}{script}", p.sql()));
        let pg = pg_statement(&params);
        NewCustomerSql { params, sqlite, pg }
    })
}

/// The named parameters in order of first use in [`PARTS`] (each part's columns, then
/// its list).
fn numbered_params() -> Vec<P> {
    let mut params = Vec::new();
    let mut number = |p: P| {
        if !params.contains(&p) {
            params.push(p);
        }
    };
    for part in PARTS {
        for (_, v) in part.cols {
            if let V::P(p) = v {
                number(*p);
            }
        }
        if let Rows::Each(p, _) | Rows::Lookup(p, _) = part.rows {
            number(p);
        }
    }
    params
}

fn placeholder(params: &[P], p: P) -> String {
    let n = params.iter().position(|q| *q == p).map_or(0, |i| i + 1);
    format!("${n}")
}

/// A column's value on SQLite, where `j` is a `json_each` row.
fn sqlite_value(params: &[P], v: V) -> String {
    match v {
        V::P(p) => placeholder(params, p),
        NewId => format!("${}", params.len() + 1),
        Item(n) => format!("json_extract(j.value, '$[{n}]')"),
        Elem => "j.value".into(),
        Const(c) => c.into(),
    }
}

/// A column's value on PostgreSQL, where `c` is the new customer and `j` a list element.
fn pg_value(params: &[P], v: V, list: Option<List>) -> String {
    match v {
        V::P(p) => placeholder(params, p),
        NewId => "c.id".into(),
        Item(n) => format!("j->>{n}"),
        Elem if matches!(list, Some(List::BigInts)) => "j.v::bigint".into(),
        Elem => "j".into(),
        Const(c) => c.into(),
    }
}

fn columns(part: &Part, skip_id: bool) -> String {
    part.cols
        .iter()
        .filter(|(_, v)| !(skip_id && matches!(v, NewId)))
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn set_list(part: &Part, value: impl Fn(V) -> String) -> String {
    part.cols
        .iter()
        .map(|(name, v)| format!("{name} = {}", value(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_list(part: &Part, skip_id: bool, value: impl Fn(V) -> String) -> String {
    part.cols
        .iter()
        .filter(|(_, v)| !(skip_id && matches!(v, NewId)))
        .map(|(_, v)| value(*v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQLite script: one statement per part it writes, the new id bound last.
fn sqlite_script(params: &[P]) -> String {
    let value = |v| sqlite_value(params, v);
    let mut script = Vec::new();
    for part in PARTS.iter().filter(|p| p.on_sqlite) {
        let (table, cols) = (part.table, columns(part, false));
        script.push(match part.rows {
            Rows::Customer | Rows::One => format!(
                "INSERT INTO {table} ({cols}) VALUES ({});",
                value_list(part, false, value)
            ),
            Rows::Update(cond) => {
                format!("UPDATE {table} SET {} WHERE {cond};", set_list(part, value))
            }
            Rows::Each(list, _) | Rows::Lookup(list, _) => format!(
                "INSERT {}INTO {table} ({cols}) SELECT {} FROM json_each({}) j;",
                if matches!(part.rows, Rows::Lookup(..)) {
                    "OR IGNORE "
                } else {
                    ""
                },
                value_list(part, false, value),
                placeholder(params, list)
            ),
        });
    }
    script.join("\n")
}

/// The PostgreSQL statement: one common table expression per part, the new id from `c`.
fn pg_statement(params: &[P]) -> String {
    let mut ctes = Vec::new();
    for part in PARTS {
        let (table, cols) = (
            part.table,
            columns(part, matches!(part.rows, Rows::Customer)),
        );
        let list = match part.rows {
            Rows::Each(_, l) | Rows::Lookup(_, l) => Some(l),
            _ => None,
        };
        let value = |v| pg_value(params, v, list);
        let body = match part.rows {
            Rows::Customer => format!(
                "INSERT INTO {table} ({cols}) VALUES ({}) RETURNING id",
                value_list(part, true, value)
            ),
            Rows::One if part.cols.iter().any(|(_, v)| matches!(v, NewId)) => format!(
                "INSERT INTO {table} ({cols}) SELECT {} FROM c",
                value_list(part, false, value)
            ),
            Rows::One => format!(
                "INSERT INTO {table} ({cols}) VALUES ({})",
                value_list(part, false, value)
            ),
            Rows::Update(cond) => {
                format!("UPDATE {table} SET {} WHERE {cond}", set_list(part, value))
            }
            Rows::Each(p, l) | Rows::Lookup(p, l) => format!(
                "INSERT INTO {table} ({cols}) SELECT {} FROM c, {}",
                value_list(part, false, value),
                match l {
                    List::Arrays =>
                        format!("json_array_elements({}::json) j", placeholder(params, p)),
                    List::Texts => format!(
                        "json_array_elements_text({}::json) AS j",
                        placeholder(params, p)
                    ),
                    List::BigInts => format!(
                        "json_array_elements_text({}::json) AS j(v)",
                        placeholder(params, p)
                    ),
                }
            ),
        };
        ctes.push(format!("{} AS ({body})", part.cte));
    }
    format!("WITH {} SELECT id FROM c", ctes.join(", "))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sqlx::{Arguments, Execute};

    use super::*;

    /// The distinct `$n` of a text.
    fn numbers(sql: &str) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for piece in sql.split('$').skip(1) {
            let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse() {
                out.insert(n);
            }
        }
        out
    }

    fn with_sample<R>(f: impl FnOnce(&NewCustomerBinds<'_>) -> R) -> R {
        let history = HistoryRow {
            id: 0,
            customer_id: 0,
            row_version: 1,
            at: 1,
            actor_id: None,
            actor_name: String::new(),
            action: String::new(),
            reason: None,
            changes: String::new(),
            snapshot: String::new(),
        };
        let place = ChainPlace {
            seq: 1,
            prev_hash: String::new(),
            hash: String::new(),
            key_id: String::new(),
        };
        f(&NewCustomerBinds {
            row: &CustomerRow::default(),
            created_month: "2026-01",
            code: &CodeRow::default(),
            history: &history,
            audit: &AuditRecord::default(),
            place: &place,
            quality: &QualityRow::default(),
            blind: "[]".into(),
            tags: "[]".into(),
            grams: "[]".into(),
            fields: "[]".into(),
            match_keys: "[]".into(),
        })
    }

    /// Every declared parameter has a number; the texts use exactly those numbers (SQLite:
    /// all but the lists it writes aside, and the new id after them), and the binder binds
    /// as many values as there are numbers.
    #[test]
    fn parameter_numbers_and_bound_values_agree() {
        let sql = new_customer_sql();
        let n = sql.params.len();
        assert_eq!(n, P::ALL.len(), "a declared parameter has no column");
        assert_eq!(
            sql.params
                .iter()
                .map(|p| *p as usize)
                .collect::<BTreeSet<_>>()
                .len(),
            n
        );

        assert_eq!(numbers(&sql.pg), (1..=n).collect::<BTreeSet<_>>());
        let mut pg =
            with_sample(|b| bind_new_customer(sqlx::query::<sqlx::Postgres>(&sql.pg), b, None));
        let bound = pg.take_arguments().ok().flatten().map(|a| a.len());
        assert_eq!(bound, Some(n));

        let aside: BTreeSet<usize> = PARTS
            .iter()
            .filter(|p| !p.on_sqlite)
            .filter_map(|p| match p.rows {
                Rows::Each(l, _) | Rows::Lookup(l, _) => sql.params.iter().position(|q| *q == l),
                _ => None,
            })
            .map(|i| i + 1)
            .collect();
        assert_eq!(aside.len(), 3, "blind index, name grams, match keys");
        let expected: BTreeSet<usize> = (1..=n + 1).filter(|i| !aside.contains(i)).collect();
        for prefix in [
            SavepointPrefix::None,
            SavepointPrefix::Open,
            SavepointPrefix::Renew,
        ] {
            let text = sql.sqlite(prefix);
            assert!(text.starts_with(prefix.sql()));
            assert_eq!(numbers(text), expected);
            let mut q =
                with_sample(|b| bind_new_customer(sqlx::query::<sqlx::Sqlite>(text), b, Some(7)));
            let bound = q.take_arguments().ok().flatten().map(|a| a.len());
            assert_eq!(bound, Some(n + 1));
        }
    }

    /// Each column's parameter is bound from the field of the same name, of the record
    /// its table is written from; the few columns named otherwise are listed here.
    #[test]
    fn each_column_is_bound_from_its_own_field() {
        const RENAMED: &[(&str, &str, &str)] = &[
            ("customers", "updated_at", "created_at"),
            ("audit_log", "before_json", "before"),
            ("audit_log", "after_json", "after"),
        ];
        const RECORDS: &[(&str, &[&str])] = &[
            ("customers", &["row", "v"]),
            ("code_registry", &["code", "row"]),
            ("customer_history", &["history"]),
            ("audit_log", &["audit", "place"]),
            ("audit_head", &["place"]),
            ("customer_quality", &["quality"]),
        ];
        const LISTS: &[(&str, &str)] = &[
            ("customer_blind_index", "v.blind"),
            ("customer_tags", "v.tags"),
            ("customer_name_grams", "v.grams"),
            ("customer_field_values", "v.fields"),
            ("customer_match_keys", "v.match_keys"),
            ("customer_quality_failures", "v.quality.failing"),
        ];
        let path = |p: P| {
            let source: String = p.source().split_whitespace().collect();
            source
                .trim_end_matches(".clone()")
                .trim_end_matches(".to_string()")
                .to_string()
        };
        for part in PARTS {
            for (col, v) in part.cols {
                let V::P(p) = v else { continue };
                let source = path(*p);
                let mut segments = source.rsplit('.');
                let field = segments.next().unwrap_or_default();
                let record = segments.next().unwrap_or_default();
                let named = RENAMED
                    .iter()
                    .find(|(t, c, _)| *t == part.table && c == col)
                    .map_or(*col, |(_, _, f)| *f);
                assert_eq!(field, named, "{}.{col} is bound from {source}", part.table);
                let records = RECORDS
                    .iter()
                    .find(|(t, _)| *t == part.table)
                    .map(|(_, r)| *r)
                    .unwrap_or_default();
                assert!(
                    records.contains(&record),
                    "{}.{col} is bound from {source}",
                    part.table
                );
            }
            if let Rows::Each(p, _) | Rows::Lookup(p, _) = part.rows {
                let expected = LISTS.iter().find(|(t, _)| *t == part.table).map(|l| l.1);
                assert_eq!(Some(path(p).as_str()), expected, "{}", part.table);
            }
        }
    }
}
