-- A replication execution's tasks: one per artifact copied (or deleted),
-- with what it moved and how it ended, and each task's log lines. The
-- execution itself is a job execution (kind replication:<policy id>).
CREATE TABLE replication_tasks (
    id             INTEGER     PRIMARY KEY AUTOINCREMENT,
    execution_id   INTEGER     NOT NULL REFERENCES job_executions (id) ON DELETE CASCADE,
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
CREATE INDEX replication_tasks_execution_idx ON replication_tasks (execution_id, id);

CREATE TABLE replication_task_logs (
    task_id   INTEGER     NOT NULL REFERENCES replication_tasks (id) ON DELETE CASCADE,
    line      INTEGER     NOT NULL,
    logged_at TEXT NOT NULL,
    level     TEXT        NOT NULL,
    message   TEXT        NOT NULL,
    PRIMARY KEY (task_id, line)
);
