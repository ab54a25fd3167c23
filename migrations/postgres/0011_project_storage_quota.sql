-- A project's storage quota in bytes; NULL for no limit.

ALTER TABLE projects ADD COLUMN storage_quota BIGINT;
