//! What each project stores and how many artifacts each repository lists,
//! summed the slow way from what they hold: the oracle the counters the
//! database keeps (`project_usage`, `project_blobs`, `repository_artifacts`)
//! must agree with after any mix of pushes, deletes and collections.

use app::core::db::Db;

/// Per project: each blob its repositories link, once, plus every manifest.
const SUMMED_USAGE: &str = "SELECT p.id, CAST(\
     COALESCE((SELECT SUM(b.size) FROM blobs b WHERE b.digest IN (SELECT rb.digest FROM repository_blobs rb \
     JOIN repositories r ON r.id = rb.repository_id WHERE r.project_id = p.id)), 0) \
     + COALESCE((SELECT SUM(m.size) FROM manifests m JOIN repositories r ON r.id = m.repository_id \
     WHERE r.project_id = p.id), 0) AS BIGINT) FROM projects p ORDER BY p.id";
const COUNTED_USAGE: &str = "SELECT p.id, u.bytes FROM projects p \
     LEFT JOIN project_usage u ON u.project_id = p.id ORDER BY p.id";
const SUMMED_LINKS: &str = "SELECT r.project_id, rb.digest, COUNT(*) FROM repository_blobs rb \
     JOIN repositories r ON r.id = rb.repository_id GROUP BY r.project_id, rb.digest ORDER BY 1, 2";
const COUNTED_LINKS: &str = "SELECT project_id, digest, links FROM project_blobs ORDER BY 1, 2";
const LISTED: &str = "SELECT r.id, (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id AND m.listed), \
     (SELECT a.artifacts FROM repository_artifacts a WHERE a.repository_id = r.id) FROM repositories r ORDER BY r.id";

/// Panics unless every project's counted usage and blob links, and every
/// repository's artifact count, equal what they hold; answers the usage
/// per project id.
pub async fn assert_counted(db: &Db) -> Vec<(i64, i64)> {
    let (summed, counted, summed_links, counted_links, listed) = app::on_db!(db, pool => async {
        let summed: Vec<(i64, i64)> = sqlx::query_as(SUMMED_USAGE).fetch_all(pool).await?;
        let counted: Vec<(i64, Option<i64>)> = sqlx::query_as(COUNTED_USAGE).fetch_all(pool).await?;
        let summed_links: Vec<(i64, String, i64)> = sqlx::query_as(SUMMED_LINKS).fetch_all(pool).await?;
        let counted_links: Vec<(i64, String, i64)> = sqlx::query_as(COUNTED_LINKS).fetch_all(pool).await?;
        let listed: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(LISTED).fetch_all(pool).await?;
        Ok::<_, sqlx::Error>((summed, counted, summed_links, counted_links, listed))
    }.await)
    .expect("read the usage");
    let counted_or_missing: Vec<(i64, i64)> = counted.iter().map(|(id, bytes)| (*id, bytes.unwrap_or(-1))).collect();
    assert_eq!(counted_or_missing, summed, "counted usage (left) against summed (right), per project");
    assert_eq!(counted_links, summed_links, "counted blob links (left) against the links");
    for (repository, artifacts, counted) in listed {
        assert_eq!(counted, Some(artifacts), "artifacts counted in repository {repository}");
    }
    summed
}
