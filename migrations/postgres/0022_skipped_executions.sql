-- A schedule tick that comes while its kind still has an execution pending
-- or running is recorded as skipped (Harbor's behaviour), not queued.
ALTER TABLE job_executions DROP CONSTRAINT job_executions_status_check;
ALTER TABLE job_executions ADD CONSTRAINT job_executions_status_check
    CHECK (status IN ('pending', 'running', 'success', 'error', 'stopped', 'skipped'));
