-- Cleaning up abandoned pushes looks up uploads by repository (and deleting
-- a repository cascades to its uploads).
CREATE INDEX uploads_repository_idx ON uploads (repository_id);
