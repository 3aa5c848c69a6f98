-- A customer's timeline lists the applications about it, newest first.
CREATE INDEX applications_target ON applications(target, created_at, id);
