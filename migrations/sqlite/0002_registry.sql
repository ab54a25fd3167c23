-- The registry's content: repositories, content-addressed blobs stored once,
-- which repositories may see which blob (pushed or mounted into them), and
-- uploads in progress. Names compare byte-wise (COLLATE BINARY) so listings
-- follow the spec's lexical order.

CREATE TABLE repositories (
    id         INTEGER     PRIMARY KEY AUTOINCREMENT,
    name       TEXT        COLLATE BINARY NOT NULL,
    created_at TEXT        NOT NULL,
    CONSTRAINT repositories_name_key UNIQUE (name)
);

CREATE TABLE blobs (
    digest     TEXT        COLLATE BINARY PRIMARY KEY,
    size       BIGINT      NOT NULL,
    created_at TEXT        NOT NULL
);

CREATE TABLE repository_blobs (
    repository_id BIGINT      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT        COLLATE BINARY NOT NULL REFERENCES blobs (digest),
    created_at    TEXT        NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest_idx ON repository_blobs (digest);

CREATE TABLE uploads (
    id            TEXT        PRIMARY KEY,
    repository_id BIGINT      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    started_at    TEXT        NOT NULL,
    updated_at    TEXT        NOT NULL
);
CREATE INDEX uploads_updated_at_idx ON uploads (updated_at);
