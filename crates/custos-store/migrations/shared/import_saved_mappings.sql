-- Mappings of the import wizard saved by name, each user's own, to pick on a later upload.
CREATE TABLE import_mappings (
    owner_id        BIGINT  NOT NULL REFERENCES users(id),
    name            TEXT    NOT NULL,
    spec            TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (owner_id, name)
);
