-- Rate limits shared by every server on the database (duplicate checks per user): one
-- row per limited key with its theoretical arrival time (generic cell rate algorithm),
-- in microseconds since the epoch.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
) WITHOUT ROWID;
