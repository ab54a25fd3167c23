-- How many artifacts each repository lists (its manifests with `listed`
-- set: not an image of an index there, not attached by `subject`), kept
-- as a counter by triggers instead of counted on every page that shows it.

CREATE TABLE repository_artifacts (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    artifacts     BIGINT  NOT NULL
);

INSERT INTO repository_artifacts (repository_id, artifacts)
    SELECT r.id, (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id AND m.listed) FROM repositories r;

CREATE TRIGGER repository_artifacts_started AFTER INSERT ON repositories
BEGIN
    INSERT INTO repository_artifacts (repository_id, artifacts) VALUES (NEW.id, 0);
END;

CREATE TRIGGER artifact_listed AFTER INSERT ON manifests WHEN NEW.listed
BEGIN
    UPDATE repository_artifacts SET artifacts = artifacts + 1 WHERE repository_id = NEW.repository_id;
END;

CREATE TRIGGER artifact_unlisted AFTER DELETE ON manifests WHEN OLD.listed
BEGIN
    UPDATE repository_artifacts SET artifacts = artifacts - 1 WHERE repository_id = OLD.repository_id;
END;

CREATE TRIGGER artifact_listing_changed AFTER UPDATE OF listed ON manifests WHEN OLD.listed <> NEW.listed
BEGIN
    UPDATE repository_artifacts SET artifacts = artifacts + (CASE WHEN NEW.listed THEN 1 ELSE -1 END)
        WHERE repository_id = NEW.repository_id;
END;
