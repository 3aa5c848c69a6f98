-- No query filters or sorts customers by name_key or uscc: duplicate checks find names
-- and credit codes through the match keys, and searches by name through the bigrams.
-- Their keys are random, so every creation wrote a leaf page of each of these indexes
-- that no other creation nearby touched (at a million customers a bulk chunk rewrote
-- most of their 66 MB); dropped.
DROP INDEX customers_name_key;
DROP INDEX customers_uscc;
