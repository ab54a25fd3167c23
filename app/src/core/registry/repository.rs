//! All SQL behind the registry: repositories, blobs, the links that let a
//! repository see a blob, and uploads in progress.

use chrono::{DateTime, Utc};

use super::{digest::Digest, names::RepoName};
use crate::{
    core::{Result, db::Db, storage::UploadId},
    on_db,
};

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

    /// The repository's id, creating it on first use (safe under concurrency).
    pub async fn ensure_repository(&self, name: &RepoName, now: DateTime<Utc>) -> Result<RepositoryId> {
        if let Some(id) = self.find_repository(name).await? {
            return Ok(id);
        }
        const SQL: &str = "INSERT INTO repositories (name, created_at) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id";
        let id: i64 = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(name.as_str()).bind(now).fetch_one(pool).await
        })?;
        Ok(RepositoryId(id))
    }

    /// The size of `digest` if `repository` may see it.
    pub async fn linked_blob_size(&self, repository: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        const SQL: &str = "SELECT b.size FROM repositories r \
             JOIN repository_blobs rb ON rb.repository_id = r.id \
             JOIN blobs b ON b.digest = rb.digest \
             WHERE r.name = $1 AND rb.digest = $2";
        let size: Option<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(repository.as_str()).bind(digest.to_string()).fetch_optional(pool).await
        })?;
        Ok(size.map(|s| s as u64))
    }

    /// Records that the content `digest` exists and that `repository` may see it.
    pub async fn link_blob(
        &self,
        repository: RepositoryId,
        digest: &Digest,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const BLOB: &str =
            "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING";
        const LINK: &str = "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id, digest) DO NOTHING";
        let digest = digest.to_string();
        on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(BLOB).bind(&digest).bind(size as i64).bind(now).execute(&mut *tx).await?;
            sqlx::query(LINK).bind(repository).bind(&digest).bind(now).execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// Removes `repository`'s link to `digest`; `false` when there was none.
    /// The content stays until garbage collection finds it unreferenced.
    pub async fn unlink_blob(&self, repository: &RepoName, digest: &Digest) -> Result<bool> {
        const SQL: &str = "DELETE FROM repository_blobs WHERE digest = $1 \
             AND repository_id = (SELECT id FROM repositories WHERE name = $2)";
        let deleted = on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(digest.to_string()).bind(repository.as_str()).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(deleted > 0)
    }

    pub async fn create_upload(&self, id: &UploadId, repository: RepositoryId, now: DateTime<Utc>) -> Result<()> {
        const SQL: &str = "INSERT INTO uploads (id, repository_id, started_at, updated_at) VALUES ($1, $2, $3, $4)";
        on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(id.as_str()).bind(repository).bind(now).bind(now).execute(pool).await.map(|_| ())
        })?;
        Ok(())
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

    pub async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id.as_str()).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }
}
