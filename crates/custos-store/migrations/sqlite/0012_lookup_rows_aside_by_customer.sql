-- The customers whose lookup rows are in the companion tables, each with those rows as
-- JSON: [[key_hash…], [gram…], [[kind, hash]…]]. A change of such a customer deletes its
-- rows from the companions by their keys, found here, so the companions need no index
-- on customer_id: that index took a random insert for every row a bulk transaction
-- wrote aside (about 25 a customer), a third or more of writing them. Its ids are
-- appended in order, one row a customer.
CREATE TABLE lookup_rows_aside (
    customer_id     INTEGER PRIMARY KEY,
    rows            TEXT    NOT NULL
);

INSERT INTO lookup_rows_aside (customer_id, rows)
SELECT c.customer_id, json_array(
    json((SELECT json_group_array(key_hash) FROM customer_match_keys_recent
          WHERE customer_id = c.customer_id)),
    json((SELECT json_group_array(gram) FROM customer_name_grams_recent
          WHERE customer_id = c.customer_id)),
    json((SELECT json_group_array(json_array(kind, hash)) FROM customer_blind_index_recent
          WHERE customer_id = c.customer_id)))
FROM (SELECT customer_id FROM customer_match_keys_recent
      UNION SELECT customer_id FROM customer_name_grams_recent
      UNION SELECT customer_id FROM customer_blind_index_recent) AS c;

DROP INDEX customer_match_keys_recent_customer;
DROP INDEX customer_name_grams_recent_customer;
DROP INDEX customer_blind_index_recent_customer;
