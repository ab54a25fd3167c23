-- A repository's artifacts are listed newest first a page at a time: this
-- index lets the list read them in order and stop after one page.

CREATE INDEX manifests_repository_created_idx ON manifests (repository_id, created_at, id);
