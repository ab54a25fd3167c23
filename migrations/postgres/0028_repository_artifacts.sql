-- How many artifacts each repository lists (its manifests with `listed`
-- set: not an image of an index there, not attached by `subject`), kept
-- as a counter by triggers instead of counted on every page that shows it.
-- As with project usage (0027), changes are recorded as inserts and added
-- up into the counter at commit, so the counter row is held only then.

LOCK TABLE repositories, manifests IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE repository_artifacts (
    repository_id BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    artifacts     BIGINT NOT NULL
);

-- Rows live only inside the transaction that wrote them: folded at commit.
CREATE TABLE repository_artifact_changes (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository_id BIGINT NOT NULL,
    artifacts     BIGINT NOT NULL
);
CREATE INDEX repository_artifact_changes_repository_idx ON repository_artifact_changes (repository_id);

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

CREATE FUNCTION berth_count_artifact() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change BIGINT := 0;
    repository BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        repository := NEW.repository_id;
        change := CASE WHEN NEW.listed THEN 1 ELSE 0 END;
    ELSIF TG_OP = 'DELETE' THEN
        repository := OLD.repository_id;
        change := CASE WHEN OLD.listed THEN -1 ELSE 0 END;
    ELSE
        repository := NEW.repository_id;
        change := (CASE WHEN NEW.listed THEN 1 ELSE 0 END) - (CASE WHEN OLD.listed THEN 1 ELSE 0 END);
    END IF;
    IF change <> 0 THEN
        INSERT INTO repository_artifact_changes (repository_id, artifacts) VALUES (repository, change);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER artifact_counted AFTER INSERT OR DELETE OR UPDATE OF listed ON manifests
    FOR EACH ROW EXECUTE FUNCTION berth_count_artifact();

-- At commit, as berth_fold_usage does for projects.
CREATE FUNCTION berth_fold_artifact_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total BIGINT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM repository_artifact_changes c WHERE c.id = NEW.id) THEN
        RETURN NULL;
    END IF;
    WITH folded AS (
        DELETE FROM repository_artifact_changes c WHERE c.repository_id = NEW.repository_id RETURNING c.artifacts
    )
    SELECT SUM(folded.artifacts) INTO total FROM folded;
    -- A repository deleted in this transaction has no counter left to change.
    UPDATE repository_artifacts a SET artifacts = a.artifacts + total WHERE a.repository_id = NEW.repository_id;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER repository_artifacts_folded AFTER INSERT ON repository_artifact_changes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION berth_fold_artifact_count();
