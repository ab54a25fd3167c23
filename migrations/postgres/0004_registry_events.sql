-- Registry events (pushes, pulls, deletes) for the audit log, quotas and
-- replication triggers. Written in batches by one task per node.

CREATE TABLE registry_events (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT        NOT NULL,
    repository  TEXT        NOT NULL,
    digest      TEXT,
    tag         TEXT,
    media_type  TEXT,
    size        BIGINT,
    actor       TEXT,
    client_addr TEXT,
    occurred_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX registry_events_occurred_at_idx ON registry_events (occurred_at);
CREATE INDEX registry_events_repository_idx ON registry_events (repository, occurred_at);
