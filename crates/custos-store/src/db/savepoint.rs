//! Where the caller's savepoint stands on SQLite, and what the next statement must run
//! first.

/// On SQLite a savepoint is opened only when the next statement runs, as part of it, and
/// released only when the next one is opened (or at commit, which releases everything).
/// An import row that is written whole then costs no round trip of its own for its
/// savepoint, and its write can be sent ahead (see [`Tx::send_behind`]) past the
/// release. A rollback to a savepoint that no statement ran under needs no statement
/// either.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct SavepointState {
    /// The caller's savepoint is open: taken and not yet released or rolled back to.
    pub(super) wanted: bool,
    /// A `SAVEPOINT custos_job` is open on the connection.
    pub(super) open_in_sql: bool,
    /// The one open on the connection is an earlier savepoint, released since.
    pub(super) stale: bool,
}

/// What must run before the next statement so that it runs under the caller's savepoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SavepointPrefix {
    None,
    /// `SAVEPOINT custos_job;`
    Open,
    /// `RELEASE SAVEPOINT custos_job; SAVEPOINT custos_job;`
    Renew,
}

impl SavepointPrefix {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            SavepointPrefix::None => "",
            SavepointPrefix::Open => "SAVEPOINT custos_job; ",
            SavepointPrefix::Renew => "RELEASE SAVEPOINT custos_job; SAVEPOINT custos_job; ",
        }
    }
}

impl SavepointState {
    /// The prefix the next statement needs; the state as if it ran.
    pub(super) fn take_prefix(&mut self) -> SavepointPrefix {
        if !self.wanted {
            // A released savepoint may stay open on the connection: nothing rolls back
            // to it, and the next one (or the commit) releases it.
            return SavepointPrefix::None;
        }
        let prefix = if !self.open_in_sql {
            SavepointPrefix::Open
        } else if self.stale {
            SavepointPrefix::Renew
        } else {
            SavepointPrefix::None
        };
        self.open_in_sql = true;
        self.stale = false;
        prefix
    }
}
