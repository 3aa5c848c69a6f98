-- The code-usage report counts codes issued per rule and month: one range read by time.
CREATE INDEX code_registry_issued ON code_registry(issued_at, rule_key);
