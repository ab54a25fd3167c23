-- The job service: schedules (one per job kind), executions with their
-- lease, progress and outcome, and the lines each execution logs.

CREATE TABLE job_schedules (
    kind        TEXT PRIMARY KEY,
    -- Six fields with seconds, in UTC.
    cron        TEXT NOT NULL,
    -- The job's parameters, JSON.
    parameters  TEXT NOT NULL DEFAULT '{}',
    -- The next tick; the node that moves it on creates that tick's execution.
    next_run_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE job_executions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    trigger          TEXT NOT NULL CHECK (trigger IN ('manual', 'schedule', 'event')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'success', 'error', 'stopped')),
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
    error            TEXT,
    -- The node running it, until when, and whether it was asked to stop.
    lease_owner      TEXT,
    lease_expires_at TEXT,
    stop_requested   BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (kind, scheduled_for)
);
CREATE INDEX job_executions_status ON job_executions (status, id);
CREATE INDEX job_executions_kind ON job_executions (kind, id);

CREATE TABLE job_logs (
    execution_id BIGINT NOT NULL REFERENCES job_executions (id) ON DELETE CASCADE,
    line         BIGINT NOT NULL,
    logged_at    TEXT NOT NULL,
    level        TEXT NOT NULL,
    message      TEXT NOT NULL,
    PRIMARY KEY (execution_id, line)
);
-- One running execution per kind, whichever node runs it.
CREATE UNIQUE INDEX job_executions_one_running ON job_executions (kind) WHERE status = 'running';
