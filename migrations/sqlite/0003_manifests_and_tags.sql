-- Manifests (their exact bytes, so GET is one indexed read), what each
-- manifest needs (blobs, child manifests), and tags.

CREATE TABLE manifests (
    id             INTEGER     PRIMARY KEY AUTOINCREMENT,
    repository_id  BIGINT      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT        COLLATE BINARY NOT NULL,
    media_type     TEXT        NOT NULL,
    artifact_type  TEXT,
    size           BIGINT      NOT NULL,
    annotations    TEXT,
    subject_digest TEXT        COLLATE BINARY,
    content        BLOB        NOT NULL,
    created_at     TEXT        NOT NULL,
    CONSTRAINT manifests_repository_digest_key UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject_idx ON manifests (repository_id, subject_digest) WHERE subject_digest IS NOT NULL;

-- What a manifest needs: its config and layers (kind 'blob') or, for an
-- index, its child manifests (kind 'manifest').
CREATE TABLE manifest_references (
    manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    digest      TEXT   COLLATE BINARY NOT NULL,
    kind        TEXT   NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_references_digest_idx ON manifest_references (digest);

CREATE TABLE tags (
    repository_id BIGINT      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT        COLLATE BINARY NOT NULL,
    manifest_id   BIGINT      NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    updated_at    TEXT        NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest_id_idx ON tags (manifest_id);
