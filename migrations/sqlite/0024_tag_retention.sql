-- Tag retention (Harbor's model): one policy per project, its rules as
-- JSON (checked when written), an optional schedule (the job service's,
-- kind retention:<policy id>), and each execution's tasks, one per
-- repository, with what was kept and deleted and the task's log.
CREATE TABLE retention_policies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rules      TEXT NOT NULL,
    cron       TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT retention_policies_project_key UNIQUE (project_id)
);

CREATE TABLE retention_tasks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id INTEGER NOT NULL REFERENCES job_executions (id) ON DELETE CASCADE,
    repository   TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'success', 'error', 'stopped')),
    total        BIGINT NOT NULL DEFAULT 0,
    retained     BIGINT NOT NULL DEFAULT 0,
    deleted      BIGINT NOT NULL DEFAULT 0,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    -- What was kept and what went (or would go, in a dry run), one line each.
    log          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX retention_tasks_execution ON retention_tasks (execution_id, id);
