-- Robot accounts: non-human credentials for CI and replication. A project
-- robot works in its one project; a system robot may hold permissions in
-- several projects or in all of them (project_id NULL). Secrets are random
-- and long, so a SHA-256 digest of them is what is stored.

CREATE TABLE robots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The full login name: robot$<project>+<name> or robot$<name>.
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    -- The project of a project robot; NULL for system robots.
    project_id  INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    secret_hash TEXT    NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL: never expires.
    expires_at  TEXT,
    created_by  TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    CONSTRAINT robots_name_key UNIQUE (name)
);
CREATE INDEX robots_project_idx ON robots (project_id);

CREATE TABLE robot_permissions (
    robot_id   INTEGER NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    -- NULL: every project (system robots only).
    project_id INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    can_pull   BOOLEAN NOT NULL DEFAULT FALSE,
    can_push   BOOLEAN NOT NULL DEFAULT FALSE,
    can_delete BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT robot_permissions_key UNIQUE (robot_id, project_id)
);
CREATE INDEX robot_permissions_project_idx ON robot_permissions (project_id);
