-- Group structure (集团 → 子公司 / 分支机构): a customer's parent in its group. Links
-- stay on the customers that were linked; a merge does not rewrite them (reads resolve a
-- merged parent to its survivor), so an unmerge needs nothing back.
CREATE TABLE customer_parents (
    customer_id BIGINT  PRIMARY KEY REFERENCES customers(id),
    parent_id   BIGINT  NOT NULL REFERENCES customers(id),
    relation    TEXT    NOT NULL,
    set_at      BIGINT  NOT NULL,
    set_by      BIGINT
);
CREATE INDEX customer_parents_parent ON customer_parents(parent_id);
-- Who was merged into a customer (a group's members hang on the survivor).
CREATE INDEX customers_merged_into ON customers(merged_into) WHERE merged_into IS NOT NULL;
