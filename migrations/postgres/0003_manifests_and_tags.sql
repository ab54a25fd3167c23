-- Manifests (their exact bytes, so GET is one indexed read), what each
-- manifest needs (blobs, child manifests), and tags.

CREATE TABLE manifests (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository_id  BIGINT      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT        COLLATE "C" NOT NULL,
    media_type     TEXT        NOT NULL,
    artifact_type  TEXT,
    size           BIGINT      NOT NULL,
    annotations    TEXT,
    subject_digest TEXT        COLLATE "C",
    content        BYTEA       NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT manifests_repository_digest_key UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject_idx ON manifests (repository_id, subject_digest) WHERE subject_digest IS NOT NULL;

-- What a manifest needs: its config and layers (kind 'blob') or, for an
-- index, its child manifests (kind 'manifest').
CREATE TABLE manifest_references (
    manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    digest      TEXT   COLLATE "C" NOT NULL,
    kind        TEXT   NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_references_digest_idx ON manifest_references (digest);

CREATE TABLE tags (
    repository_id BIGINT      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT        COLLATE "C" NOT NULL,
    manifest_id   BIGINT      NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest_id_idx ON tags (manifest_id);
