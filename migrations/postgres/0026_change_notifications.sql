-- Every node keeps what /v2 reads most in memory (manifests by tag or
-- digest, projects' visibility) and forgets it when it changes: these
-- triggers tell every listening node, on channel berth_changes, which
-- repository ('r:<id>') or project ('p:<id>') changed, when the change
-- commits. PostgreSQL sends one notification per distinct payload per
-- transaction, so deleting a repository's many rows sends one.
-- A new tag or manifest needs no notification: only what was found is kept.

CREATE FUNCTION berth_notify_repository_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_changes', 'r:' || OLD.repository_id);
    RETURN NULL;
END
$$;

CREATE FUNCTION berth_notify_project_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_changes', 'p:' || OLD.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER tags_changed AFTER UPDATE OF manifest_id OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION berth_notify_repository_change();
CREATE TRIGGER manifests_changed AFTER DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION berth_notify_repository_change();
CREATE TRIGGER projects_changed AFTER UPDATE OF public OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION berth_notify_project_change();
