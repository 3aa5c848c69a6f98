-- How many new duplicate groups an import run put in the review queue (issue 33), counted in
-- the transaction of each chunk so that a resumed run still knows the groups of the chunks
-- committed before it stopped; the finished run announces them once.
ALTER TABLE import_jobs ADD COLUMN duplicate_groups BIGINT NOT NULL DEFAULT 0;
