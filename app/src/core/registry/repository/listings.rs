//! The listings `/v2` serves: a repository's tags, the catalog of
//! repositories a caller may see, and a manifest's referrers, each a page
//! of names or rows in a fixed order.

use super::{RegistryRepository, RepositoryId};
use crate::{
    core::{
        Result,
        access::visibility_sql,
        identity::Visibility,
        registry::{digest::Digest, names::RepoName},
    },
    on_db,
};

/// One manifest whose `subject` is a given digest.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReferrerRow {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
}

/// Rows of a name listing, at most `limit`, after `last`.
pub struct ListPage<'a> {
    pub limit: Option<u32>,
    pub last: Option<&'a str>,
}

impl ListPage<'_> {
    /// One more than asked for, to learn whether another page follows.
    fn fetch_limit(&self) -> i64 {
        self.limit.map_or(i64::MAX, |n| i64::from(n) + 1)
    }
}

impl RegistryRepository {
    /// Tag names in byte order after `page.last`; one extra row tells the
    /// caller another page follows.
    pub async fn list_tags(&self, repository: RepositoryId, page: &ListPage<'_>) -> Result<Vec<String>> {
        const SQL: &str = "SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3";
        let names = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(repository).bind(page.last.unwrap_or("")).bind(page.fetch_limit()).fetch_all(pool).await
        })?;
        Ok(names)
    }

    /// Names of the repositories `visibility` shows, in byte order after
    /// `page.last` (plus one, as for tags).
    pub async fn list_repositories(&self, page: &ListPage<'_>, visibility: Visibility) -> Result<Vec<String>> {
        let (public_only, member, robot) = visibility.sql_params();
        let sql = format!(
            "SELECT r.name FROM repositories r JOIN projects p ON p.id = r.project_id \
             WHERE r.name > $1 AND {} ORDER BY r.name LIMIT $2",
            visibility_sql(3)
        );
        let names = on_db!(&self.db, pool => {
            sqlx::query_scalar(&sql)
                .bind(page.last.unwrap_or(""))
                .bind(page.fetch_limit())
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .fetch_all(pool)
                .await
        })?;
        Ok(names)
    }

    /// Manifests of the repository whose subject is `subject`, optionally of one artifact type.
    pub async fn list_referrers(
        &self,
        repository: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerRow>> {
        const SQL: &str = "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m \
             JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = $1 AND m.subject_digest = $2 AND ($3 IS NULL OR m.artifact_type = $3)";
        // Sorted here: asked to order by digest, SQLite walks the whole
        // repository by its (repository, digest) index instead of using
        // the subject index (37 ms instead of 0.1 ms at 10,000 manifests).
        let mut rows = on_db!(&self.db, pool => {
            sqlx::query_as::<_, ReferrerRow>(SQL)
                .bind(repository.as_str())
                .bind(subject.to_string())
                .bind(artifact_type)
                .fetch_all(pool)
                .await
        })?;
        rows.sort_unstable_by(|a: &ReferrerRow, b: &ReferrerRow| a.digest.cmp(&b.digest));
        Ok(rows)
    }
}
