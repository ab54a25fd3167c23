//! Deleting manifests of one repository, many in one transaction, each
//! decided on its own: the one place a manifest delete is decided (a single
//! delete is a batch of one), and what lets retention delete a hundred
//! thousand artifacts in seconds rather than one transaction each.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{RELIST_IMAGE_SQL, RegistryRepository, Removed};
use crate::{
    core::{
        Result,
        db::begin_writing,
        events::{AuditEvent, insert_audit_rows},
        immutability::{enabled_rules, protection},
        registry::names::RepoName,
    },
    on_db,
};

/// Most manifests one call deletes (and so one transaction holds).
pub const MAX_BATCH: usize = 500;

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

impl RegistryRepository {
    /// Deletes the manifests `digests` of `repository` (at most
    /// [`MAX_BATCH`]), with their tags, each with its audit row (`event`
    /// makes it from the digest), in one transaction. A manifest pushed
    /// again after `unchanged_since` (when given) stays ([`Removed::Changed`]), one
    /// an enabled immutability rule protects stays ([`Removed::Protected`]),
    /// one already gone is [`Removed::Missing`]; the indexes' children
    /// become listed again. The answer is in the order of `digests`.
    pub async fn delete_manifests(
        &self,
        repository: &RepoName,
        digests: &[String],
        unchanged_since: Option<DateTime<Utc>>,
        event: impl Fn(&str) -> AuditEvent,
    ) -> Result<Vec<Removed>> {
        assert!(digests.len() <= MAX_BATCH, "at most {MAX_BATCH} manifests per call");
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        // The rows are locked first (on PostgreSQL; SQLite's transaction
        // holds its one write lock), so a concurrent push of one of these
        // manifests (which touches its row) waits for the outcome.
        let lock = format!(
            "UPDATE manifests SET touched_at = touched_at \
             WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND digest IN ({}) \
             RETURNING id, digest, touched_at, repository_id",
            placeholders(2, digests.len())
        );
        let outcomes = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let mut query = sqlx::query_as(&lock).bind(repository.as_str());
            for digest in digests {
                query = query.bind(digest);
            }
            let found: Vec<(i64, String, DateTime<Utc>, i64)> = query.fetch_all(&mut *tx).await?;
            let mut outcome: HashMap<&str, Removed> = HashMap::new();
            let mut deletable: Vec<(i64, &str)> = Vec::new();
            let repository_id = found.first().map(|row| row.3);
            for (id, digest, touched_at, _) in &found {
                if unchanged_since.is_some_and(|since| *touched_at > since) {
                    outcome.insert(digest, Removed::Changed);
                } else {
                    deletable.push((*id, digest));
                }
            }
            let rules = enabled_rules!(tx, repository.project().unwrap_or_default())?;
            if !rules.is_empty() && !deletable.is_empty() {
                let sql = format!(
                    "SELECT manifest_id, name FROM tags WHERE manifest_id IN ({})",
                    placeholders(1, deletable.len())
                );
                let mut query = sqlx::query_as(&sql);
                for (id, _) in &deletable {
                    query = query.bind(*id);
                }
                let rows: Vec<(i64, String)> = query.fetch_all(&mut *tx).await?;
                let mut tags: HashMap<i64, Vec<&str>> = HashMap::new();
                for (id, tag) in &rows {
                    tags.entry(*id).or_default().push(tag);
                }
                deletable.retain(|(id, digest)| {
                    let names = tags.get(id).map(Vec::as_slice).unwrap_or_default();
                    match protection(&rules, repository.as_str(), names) {
                        Some(protected) => {
                            outcome.insert(digest, Removed::Protected(protected));
                            false
                        }
                        None => true,
                    }
                });
            }
            if let (Some(repository_id), false) = (repository_id, deletable.is_empty()) {
                let ids = placeholders(1, deletable.len());
                let children_sql = format!(
                    "SELECT DISTINCT digest FROM manifest_references WHERE kind = 'manifest' AND manifest_id IN ({ids})"
                );
                let delete_sql = format!("DELETE FROM manifests WHERE id IN ({ids})");
                let mut children = sqlx::query_scalar(&children_sql);
                let mut delete = sqlx::query(&delete_sql);
                for (id, _) in &deletable {
                    children = children.bind(*id);
                    delete = delete.bind(*id);
                }
                let children: Vec<String> = children.fetch_all(&mut *tx).await?;
                delete.execute(&mut *tx).await?;
                for child in &children {
                    sqlx::query(RELIST_IMAGE_SQL).bind(repository_id).bind(child).execute(&mut *tx).await?;
                }
                let events: Vec<AuditEvent> = deletable.iter().map(|(_, digest)| event(digest)).collect();
                insert_audit_rows!(&mut *tx, events)?;
                for (_, digest) in &deletable {
                    outcome.insert(digest, Removed::Done);
                }
            }
            tx.commit().await?;
            // Not found in the repository: deleted already, or never there.
            Ok::<_, sqlx::Error>(
                digests.iter().map(|digest| outcome.remove(digest.as_str()).unwrap_or(Removed::Missing)).collect(),
            )
        }.await)?;
        Ok(outcomes)
    }
}
