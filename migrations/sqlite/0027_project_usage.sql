-- What each project stores, kept as a counter instead of summed on every
-- page that shows a project and every quota check: each blob counts once
-- per project however many of its repositories link it, plus every
-- manifest. `project_blobs` counts the links a project holds to each blob
-- (its size counts while there is at least one); triggers keep both
-- tables in step with the links and manifests, in the transaction that
-- changes them. SQLite has one writer, so the counter is updated in place.

CREATE TABLE project_usage (
    project_id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    bytes      BIGINT  NOT NULL
);

CREATE TABLE project_blobs (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    digest     TEXT    COLLATE BINARY NOT NULL,
    links      BIGINT  NOT NULL CHECK (links > 0),
    PRIMARY KEY (project_id, digest)
);

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

CREATE TRIGGER project_usage_started AFTER INSERT ON projects
BEGIN
    INSERT INTO project_usage (project_id, bytes) VALUES (NEW.id, 0);
END;

-- A repository's links and manifests go before the repository itself, so
-- the triggers below still find the project they count against (a foreign
-- key's cascade would run them after the repository is gone).
CREATE TRIGGER repository_content_removed BEFORE DELETE ON repositories
BEGIN
    DELETE FROM repository_blobs WHERE repository_id = OLD.id;
    DELETE FROM manifests WHERE repository_id = OLD.id;
END;

-- A link or manifest whose repository is missing changes nothing here: its
-- foreign key refuses the statement.
CREATE TRIGGER blob_link_counted AFTER INSERT ON repository_blobs
BEGIN
    INSERT INTO project_blobs (project_id, digest, links)
        SELECT project_id, NEW.digest, 1 FROM repositories WHERE id = NEW.repository_id
        ON CONFLICT (project_id, digest) DO UPDATE SET links = links + 1;
    UPDATE project_usage SET bytes = bytes + (SELECT size FROM blobs WHERE digest = NEW.digest)
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = NEW.repository_id)
          AND (SELECT links FROM project_blobs pb
               WHERE pb.project_id = project_usage.project_id AND pb.digest = NEW.digest) = 1;
END;

CREATE TRIGGER blob_link_uncounted AFTER DELETE ON repository_blobs
BEGIN
    SELECT RAISE(ABORT, 'a blob link must be counted in its project')
        WHERE NOT EXISTS (SELECT 1 FROM project_blobs pb JOIN repositories r ON r.project_id = pb.project_id
                          WHERE r.id = OLD.repository_id AND pb.digest = OLD.digest);
    UPDATE project_usage SET bytes = bytes - (SELECT size FROM blobs WHERE digest = OLD.digest)
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = OLD.repository_id)
          AND (SELECT links FROM project_blobs pb
               WHERE pb.project_id = project_usage.project_id AND pb.digest = OLD.digest) = 1;
    -- The last link takes the count with it.
    DELETE FROM project_blobs
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = OLD.repository_id)
          AND digest = OLD.digest AND links = 1;
    UPDATE project_blobs SET links = links - 1
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = OLD.repository_id)
          AND digest = OLD.digest;
END;

CREATE TRIGGER manifest_counted AFTER INSERT ON manifests
BEGIN
    UPDATE project_usage SET bytes = bytes + NEW.size
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = NEW.repository_id);
END;

CREATE TRIGGER manifest_uncounted AFTER DELETE ON manifests
BEGIN
    SELECT RAISE(ABORT, 'a manifest must belong to a repository of a project')
        WHERE NOT EXISTS (SELECT 1 FROM repositories WHERE id = OLD.repository_id);
    UPDATE project_usage SET bytes = bytes - OLD.size
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = OLD.repository_id);
END;
