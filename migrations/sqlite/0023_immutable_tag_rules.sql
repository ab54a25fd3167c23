-- Tag immutability: per-project rules; a tag an enabled rule selects
-- cannot be moved to another manifest or deleted, nor its artifact.
CREATE TABLE immutable_tag_rules (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id      INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    priority        INTEGER NOT NULL,
    disabled        BOOLEAN NOT NULL,
    -- Repository names within the project, and tags: a glob each, kept
    -- when it matches or when it does not.
    repo_decoration TEXT    NOT NULL CHECK (repo_decoration IN ('matches', 'excludes')),
    repo_pattern    TEXT    NOT NULL,
    tag_decoration  TEXT    NOT NULL CHECK (tag_decoration IN ('matches', 'excludes')),
    tag_pattern     TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX immutable_tag_rules_project ON immutable_tag_rules (project_id, priority, id);
