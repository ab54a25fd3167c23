-- Audit entries belong to a project by id, not by name: a project deleted
-- and created again under the same name starts with an empty log rather
-- than showing its predecessor's to the new owner. No foreign key: entries
-- outlive the project they are about.
ALTER TABLE audit_log ADD COLUMN project_id INTEGER;

-- Existing entries go to the project of that name that existed when they
-- were written; those of a deleted namesake stay without one.
UPDATE audit_log SET project_id = (
    SELECT p.id FROM projects p WHERE p.name = audit_log.project AND p.created_at <= audit_log.occurred_at
) WHERE project IS NOT NULL;

-- (audit_log_project_idx stays: administrators read a deleted project's log by its name.)
CREATE INDEX audit_log_project_id_idx ON audit_log (project_id, occurred_at);
