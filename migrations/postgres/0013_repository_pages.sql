-- What the repository page shows beyond the registry's own data: a
-- description (markdown) per repository, and when each artifact was last
-- pulled (written by the audit writer, at most about once a minute).

ALTER TABLE repositories ADD COLUMN description TEXT NOT NULL DEFAULT '';

ALTER TABLE manifests ADD COLUMN pulled_at TIMESTAMPTZ;

-- Whether a manifest is listed as an artifact of its own: not attached to
-- another by `subject` and not an image of an index in the same
-- repository. Kept up to date on push and delete, so listing and counting
-- a repository's artifacts need no per-row subquery.
ALTER TABLE manifests ADD COLUMN listed BOOLEAN NOT NULL DEFAULT TRUE;

UPDATE manifests SET listed = FALSE
WHERE subject_digest IS NOT NULL
   OR EXISTS (SELECT 1 FROM manifest_references ref JOIN manifests parent ON parent.id = ref.manifest_id
              WHERE ref.kind = 'manifest' AND ref.digest = manifests.digest
                AND parent.repository_id = manifests.repository_id);

-- Lists and counts a repository's artifacts from the index alone; with the
-- size in it, summing a project's storage reads no table rows either.
CREATE INDEX manifests_listed_idx ON manifests (repository_id, listed, created_at, id, size);
