-- When a push last relied on a manifest: pushed (again), tagged, or named
-- by a pushed index. Garbage collection deletes untagged manifests (with
-- delete_untagged) only when untouched for longer than its window, so a
-- push in flight keeps the manifests it is about to tag or include, and a
-- push that touches one holds its row against the collector's delete.
-- NULL reads as created_at.
ALTER TABLE manifests ADD COLUMN touched_at TEXT;
