-- Failed sign-ins per username/address pair, shared by every node so that
-- a lockout holds whichever node the next attempt reaches. The pair is
-- kept as a digest (hex), never as the name and address themselves.
CREATE TABLE login_failures (
    pair            TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    first_failed_at TEXT NOT NULL,
    locked_until    TEXT
);
CREATE INDEX login_failures_first_failed_at ON login_failures (first_failed_at);
