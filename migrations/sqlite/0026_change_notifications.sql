-- On PostgreSQL this migration adds the triggers that tell other nodes what
-- changed (their in-memory caches forget it). SQLite serves one node, which
-- announces its own changes in-process: nothing to add here.
SELECT 1;
