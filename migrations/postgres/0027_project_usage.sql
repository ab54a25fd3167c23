-- What each project stores, kept as a counter instead of summed on every
-- page that shows a project and every quota check: each blob counts once
-- per project however many of its repositories link it, plus every
-- manifest. `project_blobs` counts the links a project holds to each blob
-- (its size counts while there is at least one); triggers keep both in
-- step with the links and manifests, in the transaction that changes them.
--
-- Every push and delete in a project changes its one counter row, so that
-- row is written only as the transaction commits: the triggers record
-- changes in `project_usage_changes` (inserts, which lock nothing) and a
-- deferred trigger adds them up into `project_usage` at commit. Holding
-- the counter from the first change instead would let a push and a delete
-- that lock rows in another order deadlock on it.

-- Running nodes keep writing while the counts are taken: hold their writes
-- (new projects too) back until the triggers are in place; reads go on.
LOCK TABLE projects, repositories, repository_blobs, manifests IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE project_usage (
    project_id BIGINT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    bytes      BIGINT NOT NULL
);

CREATE TABLE project_blobs (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    digest     TEXT   COLLATE "C" NOT NULL,
    links      BIGINT NOT NULL CHECK (links > 0),
    PRIMARY KEY (project_id, digest)
);

-- Rows live only inside the transaction that wrote them: folded at commit.
CREATE TABLE project_usage_changes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    bytes      BIGINT NOT NULL
);
CREATE INDEX project_usage_changes_project_idx ON project_usage_changes (project_id);

INSERT INTO project_blobs (project_id, digest, links)
    SELECT r.project_id, rb.digest, COUNT(*) FROM repository_blobs rb
    JOIN repositories r ON r.id = rb.repository_id GROUP BY r.project_id, rb.digest;

INSERT INTO project_usage (project_id, bytes)
    SELECT p.id,
           COALESCE((SELECT SUM(b.size) FROM project_blobs pb JOIN blobs b ON b.digest = pb.digest
                     WHERE pb.project_id = p.id), 0)
         + COALESCE((SELECT SUM(m.size) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                     WHERE r.project_id = p.id), 0)
    FROM projects p;

CREATE FUNCTION berth_start_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_usage (project_id, bytes) VALUES (NEW.id, 0);
    RETURN NULL;
END
$$;

CREATE TRIGGER project_usage_started AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION berth_start_usage();

-- The project repository `id` belongs to; raises when there is none, so a
-- write path the counting misses fails loudly instead of drifting.
CREATE FUNCTION berth_repository_project(id BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    project BIGINT;
BEGIN
    SELECT r.project_id INTO project FROM repositories r WHERE r.id = berth_repository_project.id;
    IF project IS NULL THEN
        RAISE EXCEPTION 'repository % has no project to count its content against', id;
    END IF;
    RETURN project;
END
$$;

-- A repository's links and manifests go before the repository itself, so
-- the triggers below still find the project they count against (a foreign
-- key's cascade would run them after the repository is gone). Its blobs'
-- counts are locked in digest order first, the order every other multi-blob
-- change takes them in.
CREATE FUNCTION berth_remove_repository_content() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM project_blobs pb
        WHERE pb.project_id = OLD.project_id
          AND pb.digest IN (SELECT rb.digest FROM repository_blobs rb WHERE rb.repository_id = OLD.id)
        ORDER BY pb.digest FOR UPDATE;
    DELETE FROM repository_blobs WHERE repository_id = OLD.id;
    DELETE FROM manifests WHERE repository_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER repository_content_removed BEFORE DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION berth_remove_repository_content();

CREATE FUNCTION berth_count_blob_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    project BIGINT;
    remaining BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        project := berth_repository_project(NEW.repository_id);
        INSERT INTO project_blobs AS pb (project_id, digest, links) VALUES (project, NEW.digest, 1)
            ON CONFLICT (project_id, digest) DO UPDATE SET links = pb.links + 1
            RETURNING pb.links INTO remaining;
        IF remaining = 1 THEN
            INSERT INTO project_usage_changes (project_id, bytes)
                SELECT project, b.size FROM blobs b WHERE b.digest = NEW.digest;
        END IF;
    ELSE
        project := berth_repository_project(OLD.repository_id);
        -- Locked before deciding: a link another transaction is adding to
        -- the same count must be seen once it commits, not deleted with it.
        SELECT pb.links INTO remaining FROM project_blobs pb
            WHERE pb.project_id = project AND pb.digest = OLD.digest FOR UPDATE;
        IF remaining IS NULL THEN
            RAISE EXCEPTION 'blob % is not counted in project %', OLD.digest, project;
        ELSIF remaining > 1 THEN
            UPDATE project_blobs pb SET links = pb.links - 1 WHERE pb.project_id = project AND pb.digest = OLD.digest;
        ELSE
            -- The last link takes the count with it.
            DELETE FROM project_blobs pb WHERE pb.project_id = project AND pb.digest = OLD.digest;
            INSERT INTO project_usage_changes (project_id, bytes)
                SELECT project, -b.size FROM blobs b WHERE b.digest = OLD.digest;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER blob_link_counted AFTER INSERT OR DELETE ON repository_blobs
    FOR EACH ROW EXECUTE FUNCTION berth_count_blob_link();

CREATE FUNCTION berth_count_manifest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO project_usage_changes (project_id, bytes)
            VALUES (berth_repository_project(NEW.repository_id), NEW.size);
    ELSE
        INSERT INTO project_usage_changes (project_id, bytes)
            VALUES (berth_repository_project(OLD.repository_id), -OLD.size);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER manifest_counted AFTER INSERT OR DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION berth_count_manifest();

-- At commit: the first of a transaction's changes to a project adds them
-- all up into its counter (other transactions' rows are not visible, and
-- each folds its own); the rest find theirs gone by its key and stop, so a
-- repository's thousands of links fold in one pass.
CREATE FUNCTION berth_fold_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total BIGINT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM project_usage_changes c WHERE c.id = NEW.id) THEN
        RETURN NULL;
    END IF;
    WITH folded AS (
        DELETE FROM project_usage_changes c WHERE c.project_id = NEW.project_id RETURNING c.bytes
    )
    SELECT SUM(folded.bytes) INTO total FROM folded;
    IF total IS NOT NULL THEN
        UPDATE project_usage u SET bytes = u.bytes + total WHERE u.project_id = NEW.project_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER project_usage_folded AFTER INSERT ON project_usage_changes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION berth_fold_usage();
