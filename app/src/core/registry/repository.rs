//! All SQL behind the registry: repositories, blobs, the links that let a
//! repository see a blob, and uploads in progress; manifests and tags in
//! [`manifests`], the listings `/v2` serves in [`listings`].

use chrono::{DateTime, Utc};

use super::{digest::Digest, names::RepoName};
use crate::{
    core::{
        Result,
        db::{Db, YIELD_TO_PUSHES, begin_writing, waited_too_long},
        events::{AuditEvent, audited_transaction},
        projects::{HOLDS_BLOB_SQL, USAGE_SQL},
        storage::UploadId,
    },
    on_db,
};

/// SQL: whether manifest `$2` is an image of an index in repository `$1`
/// (then it is shown with the index, not listed on its own).
macro_rules! held_by_an_index {
    () => {
        "EXISTS (SELECT 1 FROM manifest_references ref JOIN manifests parent ON parent.id = ref.manifest_id \
         WHERE ref.kind = 'manifest' AND ref.digest = $2 AND parent.repository_id = $1)"
    };
}

/// SQL: lists image `$2` of repository `$1` again once no index there holds
/// it (after its index was deleted), unless it is attached by `subject`.
pub(crate) const RELIST_IMAGE_SQL: &str = concat!(
    "UPDATE manifests SET listed = TRUE WHERE repository_id = $1 AND digest = $2 \
     AND subject_digest IS NULL AND NOT ",
    held_by_an_index!()
);

/// Locks the storage quota of the project `$1`'s repository belongs to, by
/// writing the project's row: quota checks in one project then run one at a
/// time (a row lock on PostgreSQL, the write lock on SQLite).
const LOCK_QUOTA: &str = "UPDATE projects SET storage_quota = storage_quota \
     WHERE id = (SELECT project_id FROM repositories WHERE id = $1) AND storage_quota IS NOT NULL \
     RETURNING id, name, storage_quota";

/// Inside transaction `$tx` (either database): locks the quota of
/// `$repository`'s project; `Some((project id, name, quota))` when it has one.
macro_rules! lock_project_quota {
    ($tx:ident, $repository:expr) => {
        sqlx::query_as::<_, (i64, String, i64)>(LOCK_QUOTA).bind($repository).fetch_optional(&mut *$tx).await?
    };
}

/// Inside transaction `$tx` (either database): the bytes project `$project` uses.
macro_rules! project_usage {
    ($tx:ident, $project:expr) => {{
        let used: Option<i64> = sqlx::query_scalar(USAGE_SQL).bind($project).fetch_optional(&mut *$tx).await?;
        used.unwrap_or(0)
    }};
}

/// Inside transaction `$tx` (either database): locks the quota of
/// `$repository`'s project and, when linking `$digest` (`$needed` bytes)
/// would take it past its quota, the refusal.
macro_rules! quota_refusal {
    ($tx:ident, $repository:expr, $digest:expr, $needed:expr) => {{
        match lock_project_quota!($tx, $repository) {
            Some((project, name, quota)) => {
                let held: bool =
                    sqlx::query_scalar(HOLDS_BLOB_SQL).bind(project).bind($digest).fetch_one(&mut *$tx).await?;
                let used = if held { 0 } else { project_usage!($tx, project) };
                (!held && used.saturating_add($needed) > quota).then(|| Linked::OverQuota {
                    project: name,
                    quota,
                    used,
                })
            }
            None => None,
        }
    }};
}

/// Runs one deleting statement (`$sql` with `$binds`) and, when it removed
/// a row, writes `$event`'s audit row, in one transaction; evaluates to
/// whether it removed anything.
macro_rules! delete_audited {
    ($db:expr, $sql:expr, ($($bind:expr),*), $event:expr) => {
        audited_transaction!($db, $event, |tx| {
            sqlx::query($sql)$(.bind($bind))*.execute(&mut *tx).await?.rows_affected() > 0
        }, if |deleted: &bool| *deleted)
    };
}

// After the macros above, which the manifests' SQL uses too.
mod deletions;
mod listings;
mod manifests;

pub use deletions::MAX_BATCH;
pub use listings::{ListPage, ReferrerRow};
pub use manifests::{ExistingTag, NewManifest, StoredManifest};

/// Creates a repository (`$1` its name, `$2` now) in its project (`$3`),
/// or finds it if a concurrent push just did; no row when there is no such project.
const ENSURE_REPOSITORY: &str = "INSERT INTO repositories (name, project_id, created_at) \
     SELECT $1, p.id, $2 FROM projects p WHERE p.name = $3 \
     ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id";

/// What linking a blob (or storing a manifest) came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Linked {
    Done,
    /// Refused: a blob the manifest names is no longer in the repository
    /// (removed while the push was in flight).
    Missing(String),
    /// Refused: the project would pass its storage quota.
    OverQuota {
        project: String,
        quota: i64,
        used: i64,
    },
    /// Refused: the tag exists and the push asked not to move it.
    TagTaken,
    /// Refused: the push would move a tag an immutability rule protects.
    Protected(crate::core::immutability::Protected),
    /// Refused: the repository was deleted while the blob was pushed.
    RepositoryGone,
}

/// SQL: repository `$1`'s id while it exists, held until the transaction
/// ends: its deletion (which takes the row `FOR UPDATE` first) waits for a
/// push that holds it, or the push finds it gone. SQLite's one writer
/// already holds its lock.
fn repository_held_sql(kind: crate::core::db::DbKind) -> &'static str {
    match kind {
        crate::core::db::DbKind::Sqlite => "SELECT id FROM repositories WHERE id = $1",
        crate::core::db::DbKind::Postgres => "SELECT id FROM repositories WHERE id = $1 FOR KEY SHARE",
    }
}

/// A foreign key names a row that is gone (PostgreSQL's `23503`, SQLite's
/// `SQLITE_CONSTRAINT_FOREIGNKEY`, 787).
fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if matches!(error.code().as_deref(), Some("23503" | "787")))
}

/// What deleting a manifest, a tag or a repository came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removed {
    Done,
    /// There was nothing of that name.
    Missing,
    /// Refused: it was pushed again (tagged, a tag moved onto it) after the
    /// moment the caller decided from.
    Changed,
    /// Refused: it is, or holds, a tag an immutability rule protects.
    Protected(crate::core::immutability::Protected),
}

/// A blob a repository may see, and when its link was last relied on.
#[derive(Clone, Copy, Debug)]
pub struct LinkedBlob {
    pub repository: RepositoryId,
    pub size: u64,
    pub last_used: DateTime<Utc>,
}

/// A repository's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct RepositoryId(pub i64);

#[derive(Clone, Debug)]
pub struct RegistryRepository {
    db: Db,
}

impl RegistryRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn find_repository(&self, name: &RepoName) -> Result<Option<RepositoryId>> {
        let id: Option<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1").bind(name.as_str()).fetch_optional(pool).await
        })?;
        Ok(id.map(RepositoryId))
    }

    /// The repository's id, creating it on first use in its project (safe
    /// under concurrency); `None` when the project does not exist.
    pub async fn ensure_repository(&self, name: &RepoName, now: DateTime<Utc>) -> Result<Option<RepositoryId>> {
        if let Some(id) = self.find_repository(name).await? {
            return Ok(Some(id));
        }
        let Some(project) = name.project() else {
            return Ok(None);
        };
        let id: Option<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar(ENSURE_REPOSITORY).bind(name.as_str()).bind(now).bind(project).fetch_optional(pool).await
        })?;
        Ok(id.map(RepositoryId))
    }

    /// Marks `repository`'s link to `digest` as relied on now (a HEAD
    /// before a manifest push): garbage collection then keeps it for its
    /// whole window. False when the link is gone.
    pub async fn touch_link(&self, repository: RepositoryId, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        const SQL: &str = "UPDATE repository_blobs SET touched_at = $1 WHERE repository_id = $2 AND digest = $3";
        let touched = on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(now).bind(repository).bind(digest.to_string()).execute(pool).await
                .map(|done| done.rows_affected())
        })?;
        Ok(touched == 1)
    }

    /// The size of `digest` if `repository` may see it.
    pub async fn linked_blob_size(&self, repository: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        Ok(self.linked_blob(repository, digest).await?.map(|link| link.size))
    }

    /// The blob `digest` if `repository` may see it, with when the link was last relied on.
    pub async fn linked_blob(&self, repository: &RepoName, digest: &Digest) -> Result<Option<LinkedBlob>> {
        const SQL: &str = "SELECT r.id, b.size, COALESCE(rb.touched_at, rb.created_at) FROM repositories r \
             JOIN repository_blobs rb ON rb.repository_id = r.id \
             JOIN blobs b ON b.digest = rb.digest \
             WHERE r.name = $1 AND rb.digest = $2 AND b.quarantined_at IS NULL";
        let row: Option<(i64, i64, DateTime<Utc>)> = on_db!(&self.db, pool => {
            sqlx::query_as(SQL).bind(repository.as_str()).bind(digest.to_string()).fetch_optional(pool).await
        })?;
        Ok(row.map(|(id, size, used)| LinkedBlob { repository: RepositoryId(id), size: size as u64, last_used: used }))
    }

    /// Publishes the content `digest` in `repository`: records the blob,
    /// runs `publish` (which puts the content in storage, or checks it is
    /// there) and links it, in one transaction; unless that would take the
    /// repository's project past its storage quota.
    ///
    /// Links into one project are checked one at a time: the transaction
    /// first writes the project's row, which holds the others back until it
    /// commits (a row lock on PostgreSQL, the write lock on SQLite), so
    /// concurrent pushes cannot together pass the quota. The blob's row is
    /// held from before `publish` until the link commits, and garbage
    /// collection deletes content only while holding that row: content a
    /// push relies on is never deleted under it.
    /// `publish`'s own error comes back as the inner error, with nothing written.
    pub async fn publish_blob<E>(
        &self,
        repository: RepositoryId,
        digest: &Digest,
        size: u64,
        now: DateTime<Utc>,
        publish: impl Future<Output = std::result::Result<(), E>>,
    ) -> Result<std::result::Result<Linked, E>> {
        // Linking follows a verified commit or mount, so quarantined content is back.
        const BLOB: &str = "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (digest) DO UPDATE SET quarantined_at = NULL";
        const LINK: &str = "INSERT INTO repository_blobs (repository_id, digest, created_at, touched_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (repository_id, digest) DO UPDATE SET touched_at = excluded.touched_at";
        let repository_held = repository_held_sql(self.db.kind());
        let digest = digest.to_string();
        let needed = i64::try_from(size).unwrap_or(i64::MAX);
        let linked = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            if let Some(refusal) = quota_refusal!(tx, repository, &digest, needed) {
                return Ok(Ok(refusal));
            }
            sqlx::query(BLOB).bind(&digest).bind(needed).bind(now).execute(&mut *tx).await?;
            if let Err(error) = publish.await {
                return Ok(Err(error));
            }
            // The repository may have been deleted (with its uploads) during the push.
            let present: Option<i64> = sqlx::query_scalar(repository_held).bind(repository).fetch_optional(&mut *tx).await?;
            if present.is_none() {
                return Ok(Ok(Linked::RepositoryGone));
            }
            sqlx::query(LINK).bind(repository).bind(&digest).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(Linked::Done))
        }.await)?;
        Ok(linked)
    }

    /// The quota check [`Self::publish_blob`] makes, writing nothing: lets
    /// a push be refused before its bytes are published.
    pub async fn check_blob_quota(&self, repository: RepositoryId, digest: &Digest, size: u64) -> Result<Linked> {
        let digest = digest.to_string();
        let needed = i64::try_from(size).unwrap_or(i64::MAX);
        let linked = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let refusal = quota_refusal!(tx, repository, &digest, needed);
            Ok::<_, sqlx::Error>(refusal.unwrap_or(Linked::Done))
        }.await)?;
        Ok(linked)
    }

    /// Removes a repository that holds nothing (no manifest, blob or upload),
    /// as a refused push leaves one it created; `false` when it holds something.
    pub async fn delete_if_empty(&self, repository: RepositoryId) -> Result<bool> {
        const SQL: &str = "DELETE FROM repositories WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = repositories.id) \
             AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.repository_id = repositories.id) \
             AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = repositories.id)";
        let deleted = on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(repository).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(deleted > 0)
    }

    /// Removes `repository`'s link to `digest`; `false` when there was none.
    /// The content stays until garbage collection finds it unreferenced.
    /// Unlinks a blob from the repository, with the audit row `event`.
    pub async fn unlink_blob(&self, repository: &RepoName, digest: &Digest, event: &AuditEvent) -> Result<bool> {
        const SQL: &str = "DELETE FROM repository_blobs WHERE digest = $1 \
             AND repository_id = (SELECT id FROM repositories WHERE name = $2)";
        Ok(delete_audited!(&self.db, SQL, (digest.to_string(), repository.as_str()), event)?)
    }

    /// Records a new upload to `repository`, creating the repository in the
    /// same transaction when this is its first push (so a failed start leaves
    /// no empty repository); `None` when the repository's project does not exist.
    pub async fn create_upload(
        &self,
        id: &UploadId,
        repository: &RepoName,
        now: DateTime<Utc>,
    ) -> Result<Option<RepositoryId>> {
        const UPLOAD: &str = "INSERT INTO uploads (id, repository_id, started_at, updated_at) VALUES ($1, $2, $3, $4)";
        if let Some(existing) = self.find_repository(repository).await? {
            let recorded = on_db!(&self.db, pool => {
                sqlx::query(UPLOAD).bind(id.as_str()).bind(existing).bind(now).bind(now).execute(pool).await.map(|_| ())
            });
            match recorded {
                Ok(()) => return Ok(Some(existing)),
                // Deleted since it was found: created again below, as for a first push.
                Err(error) if is_foreign_key_violation(&error) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let Some(project) = repository.project() else {
            return Ok(None);
        };
        let created: Option<i64> = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let created: Option<i64> = sqlx::query_scalar(ENSURE_REPOSITORY)
                .bind(repository.as_str()).bind(now).bind(project)
                .fetch_optional(&mut *tx).await?;
            if let Some(created) = created {
                sqlx::query(UPLOAD).bind(id.as_str()).bind(created).bind(now).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(created)
        }.await)?;
        Ok(created.map(RepositoryId))
    }

    /// The repository an upload belongs to, if the upload exists and belongs to `repository`.
    pub async fn find_upload(&self, id: &UploadId, repository: &RepoName) -> Result<Option<RepositoryId>> {
        const SQL: &str = "SELECT u.repository_id FROM uploads u JOIN repositories r ON r.id = u.repository_id \
             WHERE u.id = $1 AND r.name = $2";
        let found: Option<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(id.as_str()).bind(repository.as_str()).fetch_optional(pool).await
        })?;
        Ok(found.map(RepositoryId))
    }

    pub async fn touch_upload(&self, id: &UploadId, now: DateTime<Utc>) -> Result<()> {
        on_db!(&self.db, pool => {
            sqlx::query("UPDATE uploads SET updated_at = $1 WHERE id = $2").bind(now).bind(id.as_str()).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// Removes the upload's row; `true` when this call removed it. Whoever
    /// removes it owns what the upload staged: every other request, on any
    /// node, now finds the upload unknown.
    pub async fn delete_upload(&self, id: &UploadId) -> Result<bool> {
        let deleted = on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id.as_str()).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(deleted > 0)
    }

    /// Stored content in digest order after `after`: digest, recorded size,
    /// and whether any repository links it.
    pub async fn list_blobs(&self, after: Option<&str>, limit: i64) -> Result<Vec<(String, i64, bool)>> {
        const SQL: &str = "SELECT digest, size, EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest) \
             FROM blobs b WHERE digest > $1 AND quarantined_at IS NULL ORDER BY digest LIMIT $2";
        let blobs = on_db!(&self.db, pool => {
            sqlx::query_as(SQL).bind(after.unwrap_or("")).bind(limit).fetch_all(pool).await
        })?;
        Ok(blobs)
    }

    /// Marks content as quarantined: absent to pulls until it is pushed again.
    pub async fn quarantine_blob(&self, digest: &Digest, now: DateTime<Utc>) -> Result<()> {
        on_db!(&self.db, pool => {
            sqlx::query("UPDATE blobs SET quarantined_at = $1 WHERE digest = $2")
                .bind(now)
                .bind(digest.to_string())
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Forgets uploads untouched since `cutoff`; returns their ids.
    pub async fn delete_uploads_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<UploadId>> {
        const SQL: &str = "DELETE FROM uploads WHERE updated_at < $1 RETURNING id";
        let ids: Vec<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(cutoff).fetch_all(pool).await
        })?;
        Ok(ids.iter().filter_map(|id| UploadId::parse(id)).collect())
    }

    /// Ids of uploads touched at or after `cutoff`.
    pub async fn list_uploads_since(&self, cutoff: DateTime<Utc>) -> Result<Vec<UploadId>> {
        const SQL: &str = "SELECT id FROM uploads WHERE updated_at >= $1";
        let ids: Vec<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(cutoff).fetch_all(pool).await
        })?;
        Ok(ids.iter().filter_map(|id| UploadId::parse(id)).collect())
    }

    /// Deletes repositories created before `cutoff` that never got a
    /// manifest and show no activity since (what abandoned pushes leave);
    /// returns their names. On PostgreSQL it yields to pushes (one
    /// statement locks many repositories' blob counts in no single order):
    /// then nothing goes this time.
    pub async fn delete_abandoned_repositories(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>> {
        const SQL: &str = "DELETE FROM repositories WHERE created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = repositories.id) \
             AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.repository_id = repositories.id) \
             AND NOT EXISTS (SELECT 1 FROM repository_blobs rb \
                             WHERE rb.repository_id = repositories.id AND rb.created_at >= $1) \
             RETURNING name";
        let postgres = matches!(self.db, Db::Postgres(_));
        let names = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            if postgres {
                sqlx::query(YIELD_TO_PUSHES).execute(&mut *tx).await?;
            }
            let names: Vec<String> = sqlx::query_scalar(SQL).bind(cutoff).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(names)
        }.await);
        match names {
            Err(error) if waited_too_long(&error) => Ok(Vec::new()),
            other => Ok(other?),
        }
    }
}
