-- Remote registries replication copies to and from (Harbor's endpoints).
-- The secret is sealed with the nodes' shared key, bound to the URL it was
-- given for, and never returned.
CREATE TABLE replication_registries (
    id            BIGSERIAL   PRIMARY KEY,
    name          TEXT        NOT NULL,
    kind          TEXT        NOT NULL,
    url           TEXT        NOT NULL,
    access_key    TEXT,
    sealed_secret BYTEA,
    insecure      BOOLEAN     NOT NULL,
    description   TEXT        NOT NULL,
    status        TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT replication_registries_name_key UNIQUE (name)
);

-- Replication policies: from this registry to a remote one (push-based,
-- source_registry_id NULL) or from a remote one to here (pull-based,
-- destination_registry_id NULL). A registry a policy uses cannot be deleted.
CREATE TABLE replication_policies (
    id                      BIGSERIAL   PRIMARY KEY,
    name                    TEXT        NOT NULL,
    description             TEXT        NOT NULL,
    source_registry_id      BIGINT      REFERENCES replication_registries (id),
    destination_registry_id BIGINT      REFERENCES replication_registries (id),
    dest_namespace          TEXT        NOT NULL,
    dest_namespace_replace_count SMALLINT NOT NULL,
    trigger_kind            TEXT        NOT NULL,
    cron                    TEXT,
    -- The filters as JSON: name and tag globs, tag decoration, resource kind.
    filters                 TEXT        NOT NULL,
    replicate_deletion      BOOLEAN     NOT NULL,
    override                BOOLEAN     NOT NULL,
    enabled                 BOOLEAN     NOT NULL,
    -- KB/s per task; 0 for no limit.
    speed_kb                BIGINT      NOT NULL,
    copy_by_chunk           BOOLEAN     NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    CONSTRAINT replication_policies_name_key UNIQUE (name),
    CONSTRAINT replication_policies_one_remote CHECK ((source_registry_id IS NULL) <> (destination_registry_id IS NULL))
);
CREATE INDEX replication_policies_source_idx ON replication_policies (source_registry_id);
CREATE INDEX replication_policies_destination_idx ON replication_policies (destination_registry_id);
