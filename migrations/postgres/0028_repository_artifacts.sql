-- How many artifacts each repository lists (its manifests with `listed`
-- set: not an image of an index there, not attached by `subject`), kept
-- as a counter by triggers instead of counted on every page that shows it.
-- The changes travel with 0027's usage changes (one row per manifest
-- change) and are added up at commit by the same fold, which takes the
-- project's counter first and then its repositories' in id order: every
-- committing transaction takes them in that one order.

LOCK TABLE repositories, manifests IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE repository_artifacts (
    repository_id BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    artifacts     BIGINT NOT NULL
);

INSERT INTO repository_artifacts (repository_id, artifacts)
    SELECT r.id, (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id AND m.listed) FROM repositories r;

CREATE FUNCTION berth_start_artifact_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO repository_artifacts (repository_id, artifacts) VALUES (NEW.id, 0);
    RETURN NULL;
END
$$;

CREATE TRIGGER repository_artifacts_started AFTER INSERT ON repositories
    FOR EACH ROW EXECUTE FUNCTION berth_start_artifact_count();

ALTER TABLE project_usage_changes
    ADD COLUMN repository_id BIGINT,
    ADD COLUMN artifacts     BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION berth_count_manifest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO project_usage_changes (project_id, repository_id, bytes, artifacts)
            VALUES (berth_repository_project(NEW.repository_id), NEW.repository_id, NEW.size,
                    CASE WHEN NEW.listed THEN 1 ELSE 0 END);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO project_usage_changes (project_id, repository_id, bytes, artifacts)
            VALUES (berth_repository_project(OLD.repository_id), OLD.repository_id, -OLD.size,
                    CASE WHEN OLD.listed THEN -1 ELSE 0 END);
    ELSIF OLD.listed <> NEW.listed THEN
        INSERT INTO project_usage_changes (project_id, repository_id, bytes, artifacts)
            VALUES (berth_repository_project(NEW.repository_id), NEW.repository_id, 0,
                    CASE WHEN NEW.listed THEN 1 ELSE -1 END);
    END IF;
    RETURN NULL;
END
$$;

-- 0027's trigger runs the function above for inserts and deletes; this one
-- for a manifest listed or unlisted.
CREATE TRIGGER manifest_listing_counted AFTER UPDATE OF listed ON manifests
    FOR EACH ROW EXECUTE FUNCTION berth_count_manifest();

CREATE OR REPLACE FUNCTION berth_fold_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total BIGINT;
    repositories BIGINT[];
    counts BIGINT[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM project_usage_changes c WHERE c.id = NEW.id) THEN
        RETURN NULL;
    END IF;
    WITH folded AS (
        DELETE FROM project_usage_changes c WHERE c.project_id = NEW.project_id
        RETURNING c.repository_id, c.bytes, c.artifacts
    ), listed AS (
        SELECT folded.repository_id, SUM(folded.artifacts) AS artifacts FROM folded
        WHERE folded.artifacts <> 0 GROUP BY folded.repository_id
    )
    SELECT (SELECT SUM(folded.bytes) FROM folded),
           ARRAY(SELECT listed.repository_id FROM listed ORDER BY listed.repository_id),
           ARRAY(SELECT listed.artifacts FROM listed ORDER BY listed.repository_id)
        INTO total, repositories, counts;
    IF total IS NOT NULL THEN
        UPDATE project_usage u SET bytes = u.bytes + total WHERE u.project_id = NEW.project_id;
    END IF;
    -- A repository deleted in this transaction has no counter left to change.
    FOR i IN 1 .. COALESCE(array_length(repositories, 1), 0) LOOP
        UPDATE repository_artifacts a SET artifacts = a.artifacts + counts[i] WHERE a.repository_id = repositories[i];
    END LOOP;
    RETURN NULL;
END
$$;
