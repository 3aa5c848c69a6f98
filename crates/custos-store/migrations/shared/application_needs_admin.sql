-- An open application whose current step has nobody left who may decide it (approver
-- roles removed, users disabled, nobody else qualifies) waits for an administrator:
-- `needs_admin` holds why (JSON: code, step, zh, en, at) until someone is assigned.
ALTER TABLE applications ADD COLUMN needs_admin TEXT;
CREATE INDEX applications_needs_admin ON applications(id) WHERE needs_admin IS NOT NULL;
