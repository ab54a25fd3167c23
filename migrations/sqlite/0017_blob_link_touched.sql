-- When a repository's link to a blob was last relied on: pushed, mounted,
-- named by a pushed manifest, or asked about (HEAD). Garbage collection
-- removes only links unreferenced for longer than its window, so a push
-- in flight keeps what it is about to name. NULL reads as created_at.
ALTER TABLE repository_blobs ADD COLUMN touched_at TEXT;
