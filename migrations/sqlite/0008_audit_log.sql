-- The audit log: every registry operation (push, pull, delete), sign-in and
-- change to projects, members and robots, with who, what, when, from where
-- and the outcome. It replaces registry_events, whose rows it keeps (the
-- registry columns — digest, tag, media type, size — stay for quotas and
-- replication triggers).

CREATE TABLE audit_log (
    id            INTEGER     PRIMARY KEY AUTOINCREMENT,
    occurred_at   TEXT NOT NULL,
    -- The account acting; NULL for anonymous callers.
    actor         TEXT,
    client_addr   TEXT,
    -- pull, push, delete, create, update or login.
    operation     TEXT        NOT NULL,
    -- artifact, project, member, robot, user or session.
    resource_type TEXT        NOT NULL,
    resource      TEXT        NOT NULL,
    project       TEXT,
    digest        TEXT,
    tag           TEXT,
    media_type    TEXT,
    size          BIGINT,
    outcome       TEXT        NOT NULL DEFAULT 'success' CHECK (outcome IN ('success', 'failure')),
    detail        TEXT
);

INSERT INTO audit_log (occurred_at, actor, client_addr, operation, resource_type, resource, project,
                       digest, tag, media_type, size, outcome)
    SELECT occurred_at, actor, client_addr, kind, 'artifact', repository, CASE WHEN instr(repository, '/') > 0 THEN substr(repository, 1, instr(repository, '/') - 1) END,
           digest, tag, media_type, size, 'success'
    FROM registry_events ORDER BY id;
DROP TABLE registry_events;

CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at);
CREATE INDEX audit_log_project_idx ON audit_log (project, occurred_at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, occurred_at);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource, occurred_at);
