-- The nodes whose runners take jobs (Harbor's worker pools), as each last
-- said it was alive; rows of nodes silent for a day are removed.
CREATE TABLE job_nodes (
    node         TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    concurrency  INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

-- Job kinds whose queue an administrator paused: their pending executions
-- wait (schedules still queue them) until the queue is resumed.
CREATE TABLE job_queues (
    kind       TEXT PRIMARY KEY,
    paused     BOOLEAN NOT NULL,
    updated_at TEXT NOT NULL
);
