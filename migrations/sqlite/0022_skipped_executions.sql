-- A schedule tick that comes while its kind still has an execution pending
-- or running is recorded as skipped (Harbor's behaviour), not queued.
--
-- SQLite cannot change a CHECK constraint in place, and migrations run in
-- a transaction, where foreign keys cannot be switched off: dropping the
-- old executions table would cascade into the logs and replication tasks
-- that reference it. So the executions and every table that references
-- them are rebuilt together: new tables that reference each other, the
-- rows copied, the old tables dropped children first (nothing references
-- them by then), and the new ones renamed into place (SQLite rewrites the
-- references as it renames).
CREATE TABLE job_executions_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    trigger          TEXT NOT NULL CHECK (trigger IN ('manual', 'schedule', 'event')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'success', 'error', 'stopped', 'skipped')),
    parameters       TEXT NOT NULL DEFAULT '{}',
    -- The schedule tick this execution is for; one execution per tick.
    scheduled_for    TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    ended_at         TEXT,
    progress_done    BIGINT NOT NULL DEFAULT 0,
    progress_total   BIGINT,
    -- What the run did, JSON (freed bytes, counts, …).
    summary          TEXT,
    -- Why it failed, or why a tick was skipped.
    error            TEXT,
    -- The node running it, until when, and whether it was asked to stop.
    lease_owner      TEXT,
    lease_expires_at TEXT,
    stop_requested   BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (kind, scheduled_for)
);
CREATE TABLE job_logs_new (
    execution_id BIGINT NOT NULL REFERENCES job_executions_new (id) ON DELETE CASCADE,
    line         BIGINT NOT NULL,
    logged_at    TEXT NOT NULL,
    level        TEXT NOT NULL,
    message      TEXT NOT NULL,
    PRIMARY KEY (execution_id, line)
);
CREATE TABLE replication_tasks_new (
    id             INTEGER     PRIMARY KEY AUTOINCREMENT,
    execution_id   INTEGER     NOT NULL REFERENCES job_executions_new (id) ON DELETE CASCADE,
    resource_type  TEXT        NOT NULL,
    operation      TEXT        NOT NULL,
    src_resource   TEXT        NOT NULL,
    dst_resource   TEXT        NOT NULL,
    digest         TEXT        NOT NULL,
    status         TEXT        NOT NULL,
    bytes          INTEGER     NOT NULL,
    started_at     TEXT,
    ended_at       TEXT
);
CREATE TABLE replication_task_logs_new (
    task_id   INTEGER     NOT NULL REFERENCES replication_tasks_new (id) ON DELETE CASCADE,
    line      INTEGER     NOT NULL,
    logged_at TEXT NOT NULL,
    level     TEXT        NOT NULL,
    message   TEXT        NOT NULL,
    PRIMARY KEY (task_id, line)
);

INSERT INTO job_executions_new
    (id, kind, trigger, status, parameters, scheduled_for, created_at, started_at, ended_at,
     progress_done, progress_total, summary, error, lease_owner, lease_expires_at, stop_requested)
SELECT id, kind, trigger, status, parameters, scheduled_for, created_at, started_at, ended_at,
       progress_done, progress_total, summary, error, lease_owner, lease_expires_at, stop_requested
FROM job_executions;
INSERT INTO job_logs_new (execution_id, line, logged_at, level, message)
SELECT execution_id, line, logged_at, level, message FROM job_logs;
INSERT INTO replication_tasks_new
    (id, execution_id, resource_type, operation, src_resource, dst_resource, digest, status, bytes, started_at, ended_at)
SELECT id, execution_id, resource_type, operation, src_resource, dst_resource, digest, status, bytes, started_at, ended_at
FROM replication_tasks;
INSERT INTO replication_task_logs_new (task_id, line, logged_at, level, message)
SELECT task_id, line, logged_at, level, message FROM replication_task_logs;

-- Ids are never reused: the new tables carry the old sequences on.
DELETE FROM sqlite_sequence WHERE name IN ('job_executions_new', 'replication_tasks_new');
UPDATE sqlite_sequence SET name = name || '_new' WHERE name IN ('job_executions', 'replication_tasks');

DROP TABLE replication_task_logs;
DROP TABLE replication_tasks;
DROP TABLE job_logs;
DROP TABLE job_executions;

ALTER TABLE job_executions_new RENAME TO job_executions;
ALTER TABLE job_logs_new RENAME TO job_logs;
ALTER TABLE replication_tasks_new RENAME TO replication_tasks;
ALTER TABLE replication_task_logs_new RENAME TO replication_task_logs;

CREATE INDEX job_executions_status ON job_executions (status, id);
CREATE INDEX job_executions_kind ON job_executions (kind, id);
-- One running execution per kind, whichever node runs it.
CREATE UNIQUE INDEX job_executions_one_running ON job_executions (kind) WHERE status = 'running';
CREATE INDEX replication_tasks_execution_idx ON replication_tasks (execution_id, id);
