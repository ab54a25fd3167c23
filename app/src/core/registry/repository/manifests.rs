//! The SQL of manifests and tags: storing a manifest with its references
//! and tag, finding one, and deleting manifests, tags and repositories.

use chrono::{DateTime, Utc};

use super::{
    LOCK_QUOTA, Linked, RegistryRepository, Removed, RepositoryId, is_foreign_key_violation, repository_held_sql,
};
use crate::{
    core::{
        Result,
        db::begin_writing,
        events::{AuditEvent, write_audit_row},
        immutability::{enabled_rules, protection},
        projects::USAGE_SQL,
        registry::{digest::Digest, names::RepoName},
    },
    on_db,
};

/// How many times a push ended by a deadlock is tried again.
const DEADLOCK_RETRIES: u32 = 3;

/// PostgreSQL's `deadlock_detected`: the transaction was rolled back whole.
fn is_deadlock(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some("40P01"))
}

/// A stored manifest, as served.
#[derive(Clone, Debug)]
pub struct StoredManifest {
    pub digest: String,
    pub media_type: String,
    pub content: bytes::Bytes,
}

/// A stored manifest and where it lives (what a change to it names).
#[derive(Debug, sqlx::FromRow)]
pub struct FoundManifest {
    pub repository_id: i64,
    pub project_id: i64,
    pub digest: String,
    pub media_type: String,
    pub content: Vec<u8>,
}

/// A manifest about to be stored.
pub struct NewManifest<'a> {
    pub repository: RepositoryId,
    /// The repository's name, for the immutability rules of its project.
    pub name: &'a RepoName,
    pub digest: &'a Digest,
    pub parsed: &'a crate::core::registry::manifest::ParsedManifest,
    pub content: &'a [u8],
    pub tag: Option<&'a crate::core::registry::names::Tag>,
    /// What happens when the tag already names a manifest here.
    pub existing_tag: ExistingTag,
}

/// What a manifest push does with a tag that already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExistingTag {
    /// Moves it to the new manifest (a push under a tag, as clients expect).
    Move,
    /// Refuses the whole push ([`Linked::TagTaken`]): adding a tag in the
    /// portal never re-points one somebody made meanwhile.
    Refuse,
}

impl RegistryRepository {
    pub async fn find_manifest_by_digest(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<Option<FoundManifest>> {
        const SQL: &str = "SELECT r.id AS repository_id, r.project_id, m.digest, m.media_type, m.content \
             FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1 AND m.digest = $2";
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, FoundManifest>(SQL).bind(repository.as_str()).bind(digest.to_string()).fetch_optional(pool).await
        })?;
        Ok(row)
    }

    pub async fn find_manifest_by_tag(
        &self,
        repository: &RepoName,
        tag: &crate::core::registry::names::Tag,
    ) -> Result<Option<FoundManifest>> {
        const SQL: &str = "SELECT r.id AS repository_id, r.project_id, m.digest, m.media_type, m.content FROM tags t \
             JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id \
             WHERE r.name = $1 AND t.name = $2";
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, FoundManifest>(SQL).bind(repository.as_str()).bind(tag.as_str()).fetch_optional(pool).await
        })?;
        Ok(row)
    }

    /// Which of `digests` the repository lacks, as blobs (`manifests` false)
    /// or as manifests (`manifests` true). One query however many there are.
    pub async fn missing(&self, repository: RepositoryId, digests: &[&Digest], manifests: bool) -> Result<Vec<Digest>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        // Quarantined content counts as missing: the client pushes it again.
        let select = if manifests {
            "SELECT digest FROM manifests WHERE repository_id = "
        } else {
            "SELECT rb.digest FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
             WHERE b.quarantined_at IS NULL AND rb.repository_id = "
        };
        let column = if manifests { "digest" } else { "rb.digest" };
        let present: Vec<String> = on_db!(&self.db, pool => {
            let mut query = sqlx::QueryBuilder::new(select);
            query.push_bind(repository.0).push(format!(" AND {column} IN ("));
            let mut list = query.separated(", ");
            for digest in digests {
                list.push_bind(digest.to_string());
            }
            list.push_unseparated(")");
            query.build_query_scalar::<String>().fetch_all(pool).await
        })?;
        Ok(digests.iter().filter(|d| !present.iter().any(|p| *p == d.to_string())).map(|d| (*d).clone()).collect())
    }

    /// Stores a manifest (once per repository and digest), what it needs, and
    /// points the tag at it, in one transaction; unless the manifest is new
    /// to the repository and would take the project past its storage quota.
    /// `event` is the push's audit row, written in the same transaction.
    pub async fn put_manifest(&self, new: NewManifest<'_>, now: DateTime<Utc>, event: &AuditEvent) -> Result<Linked> {
        // Listed unless attached by `subject` or already an image of an index
        // here. Pushing a manifest that exists marks it in use, holding its
        // row against garbage collection's delete until this commits.
        const UPSERT: &str = concat!(
            "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, size, annotations, \
             subject_digest, content, created_at, touched_at, listed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $7 IS NULL AND NOT ",
            held_by_an_index!(),
            ") ON CONFLICT (repository_id, digest) DO UPDATE SET touched_at = excluded.touched_at RETURNING id"
        );
        const EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2)";
        const NEW_TAG: &str = "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (repository_id, name) DO NOTHING";
        // The tag exists: pushed again with the same manifest, or moved.
        const SAME_TAG: &str =
            "UPDATE tags SET updated_at = $4 WHERE repository_id = $1 AND name = $2 AND manifest_id = $3";
        const MOVE_TAG: &str =
            "UPDATE tags SET manifest_id = $3, updated_at = $4 WHERE repository_id = $1 AND name = $2";
        let digest = new.digest.to_string();
        let subject = new.parsed.subject.as_ref().map(Digest::to_string);
        let size = new.content.len() as i64;
        let mut blobs: Vec<String> = new
            .parsed
            .needs
            .iter()
            .filter_map(|needed| match needed {
                crate::core::registry::manifest::Needed::Blob(d) => Some(d.to_string()),
                crate::core::registry::manifest::Needed::Manifest(_) => None,
            })
            .collect();
        blobs.sort();
        blobs.dedup();
        // PostgreSQL may end this transaction as a deadlock's victim (its
        // row locks meet a concurrent push's or a collection's in another
        // order); it rolled back whole, so it is tried again.
        let repository_held = repository_held_sql(self.db.kind());
        let mut attempts = 0;
        let stored = loop {
            let outcome = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            if let Some((project, name, quota)) = lock_project_quota!(tx, new.repository) {
                let exists: bool =
                    sqlx::query_scalar(EXISTS).bind(new.repository).bind(&digest).fetch_one(&mut *tx).await?;
                let used = if exists { 0 } else { project_usage!(tx, project) };
                if !exists && used.saturating_add(size) > quota {
                    return Ok(Linked::OverQuota { project: name, quota, used });
                }
            }
            // The repository first, as its deletion takes it first: the two
            // then wait for each other instead of deadlocking on its links.
            let present: Option<i64> =
                sqlx::query_scalar(repository_held).bind(new.repository).fetch_optional(&mut *tx).await?;
            if present.is_none() {
                return Ok(Linked::RepositoryGone);
            }
            // The links this manifest relies on are marked in use, in this
            // transaction: garbage collection cannot remove one under it.
            if !blobs.is_empty() {
                let mut query = sqlx::QueryBuilder::new("UPDATE repository_blobs SET touched_at = ");
                query.push_bind(now).push(" WHERE repository_id = ").push_bind(new.repository).push(" AND digest IN (");
                let mut list = query.separated(", ");
                for blob in &blobs {
                    list.push_bind(blob);
                }
                query.push(") RETURNING digest");
                let touched: Vec<String> = query.build_query_scalar().fetch_all(&mut *tx).await?;
                if let Some(gone) = blobs.iter().find(|blob| !touched.contains(blob)) {
                    return Ok(Linked::Missing(gone.clone()));
                }
            }
            let id: i64 = sqlx::query_scalar(UPSERT)
                .bind(new.repository)
                .bind(&digest)
                .bind(new.parsed.media_type)
                .bind(new.parsed.artifact_type.as_deref())
                .bind(new.content.len() as i64)
                .bind(new.parsed.annotations.as_deref())
                .bind(subject.as_deref())
                .bind(new.content)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            if !new.parsed.needs.is_empty() {
                let mut query = sqlx::QueryBuilder::new("INSERT INTO manifest_references (manifest_id, digest, kind) ");
                query.push_values(&new.parsed.needs, |mut row, needed| {
                    let (digest, kind) = match needed {
                        crate::core::registry::manifest::Needed::Blob(d) => (d.to_string(), "blob"),
                        crate::core::registry::manifest::Needed::Manifest(d) => (d.to_string(), "manifest"),
                    };
                    row.push_bind(id).push_bind(digest).push_bind(kind);
                });
                query.push(" ON CONFLICT (manifest_id, digest) DO NOTHING");
                query.build().execute(&mut *tx).await?;
                // An index's images are shown with it, not as artifacts of
                // their own; and they are marked in use, in this transaction,
                // so garbage collection cannot delete one under the index.
                let mut children: Vec<String> = new
                    .parsed
                    .needs
                    .iter()
                    .filter_map(|needed| match needed {
                        crate::core::registry::manifest::Needed::Manifest(d) => Some(d.to_string()),
                        crate::core::registry::manifest::Needed::Blob(_) => None,
                    })
                    .collect();
                children.sort();
                children.dedup();
                if !children.is_empty() {
                    let mut query = sqlx::QueryBuilder::new("UPDATE manifests SET listed = FALSE, touched_at = ");
                    query.push_bind(now).push(" WHERE repository_id = ").push_bind(new.repository).push(" AND digest IN (");
                    let mut list = query.separated(", ");
                    for child in &children {
                        list.push_bind(child);
                    }
                    query.push(") RETURNING digest");
                    let touched: Vec<String> = query.build_query_scalar().fetch_all(&mut *tx).await?;
                    if let Some(gone) = children.iter().find(|child| !touched.contains(child)) {
                        return Ok(Linked::Missing(gone.clone()));
                    }
                }
            }
            if let Some(tag) = new.tag {
                let tag_write = |sql: &'static str| sqlx::query(sql).bind(new.repository).bind(tag.as_str()).bind(id).bind(now);
                let created = tag_write(NEW_TAG).execute(&mut *tx).await?.rows_affected() > 0;
                if !created {
                    if new.existing_tag == ExistingTag::Refuse {
                        return Ok(Linked::TagTaken);
                    }
                    let same = tag_write(SAME_TAG).execute(&mut *tx).await?.rows_affected() > 0;
                    // Moving a tag (or recreating one deleted a moment ago):
                    // the row is locked now, and the rules decide.
                    if !same && tag_write(MOVE_TAG).execute(&mut *tx).await?.rows_affected() > 0 {
                        let rules = enabled_rules!(tx, new.name.project().unwrap_or_default())?;
                        if let Some(protected) = protection(&rules, new.name.as_str(), &[tag.as_str()]) {
                            return Ok(Linked::Protected(protected));
                        }
                    } else if !same {
                        tag_write(NEW_TAG).execute(&mut *tx).await?;
                    }
                }
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Linked::Done)
        }.await);
            match outcome {
                Err(error) if is_deadlock(&error) && attempts < DEADLOCK_RETRIES => {
                    attempts += 1;
                    tracing::warn!(%error, attempts, "manifest push chosen as a deadlock's victim; trying again");
                }
                // Every row written here hangs off the repository: it was deleted under the push.
                Err(error) if is_foreign_key_violation(&error) => break Linked::RepositoryGone,
                outcome => break outcome?,
            }
        };
        Ok(stored)
    }

    /// Deletes a manifest and, with it, every tag pointing at it, unless
    /// an immutability rule protects one of them (or, with
    /// `unchanged_since`, it was pushed again after that moment). The images
    /// of a deleted index that no other index here holds are listed again.
    /// `event` is the deletion's audit row, written in the same transaction.
    /// The one-manifest case of [`Self::delete_manifests`], which decides.
    pub async fn delete_manifest(
        &self,
        repository: &RepoName,
        digest: &Digest,
        unchanged_since: Option<DateTime<Utc>>,
        event: &AuditEvent,
    ) -> Result<Removed> {
        let removed =
            self.delete_manifests(repository, &[digest.to_string()], unchanged_since, |_| event.clone()).await?;
        Ok(removed.into_iter().next().unwrap_or(Removed::Missing))
    }

    /// Deletes a repository with its manifests, tags, blob links and
    /// uploads (by cascade), unless an immutability rule protects one of
    /// its tags. The blobs stay in the store for garbage collection;
    /// staged upload bytes for the upload cleanup.
    pub async fn delete_repository(&self, repository: &RepoName, event: &AuditEvent) -> Result<Removed> {
        // Locked first: SQLite by a write (its one write lock); PostgreSQL by
        // FOR UPDATE, which a concurrent push's foreign-key check waits on
        // (a no-op UPDATE would take a weaker lock that lets it through).
        let lock = match self.db.kind() {
            crate::core::db::DbKind::Sqlite => "UPDATE repositories SET name = name WHERE name = $1 RETURNING id",
            crate::core::db::DbKind::Postgres => "SELECT id FROM repositories WHERE name = $1 FOR UPDATE",
        };
        const TAGS: &str = "SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id WHERE r.name = $1";
        const DELETE: &str = "DELETE FROM repositories WHERE name = $1";
        let removed = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let locked: Option<i64> = sqlx::query_scalar(lock).bind(repository.as_str()).fetch_optional(&mut *tx).await?;
            if locked.is_none() {
                return Ok(Removed::Missing);
            }
            let rules = enabled_rules!(tx, repository.project().unwrap_or_default())?;
            if !rules.is_empty() {
                let tags: Vec<String> = sqlx::query_scalar(TAGS).bind(repository.as_str()).fetch_all(&mut *tx).await?;
                let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
                if let Some(protected) = protection(&rules, repository.as_str(), &tags) {
                    return Ok(Removed::Protected(protected));
                }
            }
            sqlx::query(DELETE).bind(repository.as_str()).execute(&mut *tx).await?;
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Removed::Done)
        }.await)?;
        Ok(removed)
    }

    /// Deletes a tag, unless an immutability rule protects it.
    pub async fn delete_tag(
        &self,
        repository: &RepoName,
        tag: &crate::core::registry::names::Tag,
        event: &AuditEvent,
    ) -> Result<Removed> {
        const SQL: &str =
            "DELETE FROM tags WHERE name = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2)";
        self.delete_protected_tag(repository, tag, (SQL, None), event).await
    }

    /// Deletes the tag only while it still names the manifest `digest`
    /// (a tag moved meanwhile stays where it went, and the answer is
    /// [`Removed::Missing`]), unless an immutability rule protects it.
    pub async fn delete_tag_of(
        &self,
        repository: &RepoName,
        tag: &crate::core::registry::names::Tag,
        digest: &Digest,
        event: &AuditEvent,
    ) -> Result<Removed> {
        const SQL: &str = "DELETE FROM tags WHERE name = $1 \
             AND repository_id = (SELECT id FROM repositories WHERE name = $2) \
             AND manifest_id = (SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id \
                                WHERE r.name = $2 AND m.digest = $3)";
        self.delete_protected_tag(repository, tag, (SQL, Some(digest.to_string())), event).await
    }

    /// Runs a tag's delete (`$1` the tag, `$2` the repository, `$3` the
    /// digest when given), then asks the rules in the same transaction:
    /// a protected tag's delete is rolled back.
    async fn delete_protected_tag(
        &self,
        repository: &RepoName,
        tag: &crate::core::registry::names::Tag,
        (sql, digest): (&'static str, Option<String>),
        event: &AuditEvent,
    ) -> Result<Removed> {
        let removed = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let mut delete = sqlx::query(sql).bind(tag.as_str()).bind(repository.as_str());
            if let Some(digest) = &digest {
                delete = delete.bind(digest);
            }
            if delete.execute(&mut *tx).await?.rows_affected() == 0 {
                return Ok(Removed::Missing);
            }
            let rules = enabled_rules!(tx, repository.project().unwrap_or_default())?;
            if let Some(protected) = protection(&rules, repository.as_str(), &[tag.as_str()]) {
                return Ok(Removed::Protected(protected));
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Removed::Done)
        }.await)?;
        Ok(removed)
    }
}
