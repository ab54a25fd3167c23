//! All SQL touching projects; their members' in [`members`].

mod members;

pub use members::Existing;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{ListOptions, Project, ProjectId, ProjectName, ProjectSort};
use crate::{
    core::{
        Error, Result,
        access::visibility_sql,
        db::{Counted, Db, Keyset, Page, begin_writing, like_contains},
        events::{AuditEvent, audited_transaction, write_audit_row},
        identity::{UserId, Visibility},
        rbac::Role,
    },
    on_db,
};

#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: i64,
    name: String,
    public: bool,
    owner_id: Option<i64>,
    owner_name: Option<String>,
    repository_count: i64,
    storage_quota: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = Error;

    fn try_from(row: ProjectRow) -> Result<Self> {
        let name = ProjectName::parse(&row.name)
            .map_err(|message| Error::corrupt(format!("stored project name {:?} {message}", row.name)))?;
        Ok(Project {
            id: ProjectId(row.id),
            name,
            public: row.public,
            owner_id: row.owner_id.map(UserId),
            owner_name: row.owner_name,
            repository_count: row.repository_count,
            storage_quota: row.storage_quota,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The bytes project `$1` stores: each blob once however many of its
/// repositories link it, plus its manifests. Triggers keep the counter in
/// step with every link and manifest (migration 0027).
pub(crate) const USAGE_SQL: &str = "SELECT bytes FROM project_usage WHERE project_id = $1";

/// Whether any repository of project `$1` already links blob `$2` (it then
/// takes no more of the project's storage).
pub(crate) const HOLDS_BLOB_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM project_blobs WHERE project_id = $1 AND digest = $2)";

const PROJECT_COLUMNS: &str = "p.id, p.name, p.public, p.owner_id, p.storage_quota, p.created_at, p.updated_at, \
     (SELECT u.username FROM users u WHERE u.id = p.owner_id) AS owner_name, \
     (SELECT COUNT(*) FROM repositories r WHERE r.project_id = p.id) AS repository_count";

#[derive(Clone, Debug)]
pub struct ProjectRepository {
    db: Db,
}

impl ProjectRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates the project with `owner` as its project admin and the audit
    /// row `event`, in one transaction: no project is ever left without an
    /// administrator. The new project's id, or `None` when the name is taken.
    pub async fn create(
        &self,
        name: &ProjectName,
        public: bool,
        storage_quota: Option<i64>,
        owner: UserId,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<Option<ProjectId>> {
        const SQL: &str = "INSERT INTO projects (name, public, storage_quota, owner_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (name) DO NOTHING RETURNING id";
        const ADMIN: &str =
            "INSERT INTO project_members (project_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)";
        let id: Option<i64> = audited_transaction!(&self.db, event, |tx| {
            let id: Option<i64> = sqlx::query_scalar(SQL)
                .bind(name.as_str())
                .bind(public)
                .bind(storage_quota)
                .bind(owner.0)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(id) = id {
                let admin = Role::ProjectAdmin.name();
                sqlx::query(ADMIN).bind(id).bind(owner.0).bind(admin).bind(now).execute(&mut *tx).await?;
            }
            id
        }, if |id: &Option<i64>| id.is_some())?;
        Ok(id.map(ProjectId))
    }

    pub async fn find(&self, name: &ProjectName) -> Result<Option<Project>> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.name = $1");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, ProjectRow>(&sql).bind(name.as_str()).fetch_optional(pool).await
        })?;
        row.map(Project::try_from).transpose()
    }

    pub async fn find_by_id(&self, id: ProjectId) -> Result<Option<Project>> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.id = $1");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, ProjectRow>(&sql).bind(id.0).fetch_optional(pool).await
        })?;
        row.map(Project::try_from).transpose()
    }

    pub async fn list(&self, options: &ListOptions<'_>, visibility: Visibility) -> Result<Page<Project>> {
        let (public_only, member, robot) = visibility.sql_params();
        if options.public == Some(false) && public_only == Some(true) {
            return Ok(Page::at(options.window, Vec::new(), 0));
        }
        // Project names are lowercase with no LIKE wildcards but `_`, which is escaped.
        let contains = options.name_contains.map(|needle| like_contains(&needle.to_lowercase()));
        // $1 name pattern, $2 exact name and $3 public or not (NULL for "any"),
        // then the viewer's visibility.
        let filter = format!(
            "($1 IS NULL OR p.name LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR p.name = $2) \
             AND ($3 IS NULL OR p.public = $3) AND {}",
            visibility_sql(4)
        );
        let order = match options.sort {
            ProjectSort::Name => "p.name",
            ProjectSort::NameDesc => "p.name DESC",
            ProjectSort::Created => "p.created_at, p.id",
            ProjectSort::CreatedDesc => "p.created_at DESC, p.id DESC",
        };
        let page_sql = format!(
            "SELECT {PROJECT_COLUMNS}, COUNT(*) OVER () AS total FROM projects p WHERE {filter} \
             ORDER BY {order} LIMIT $7 OFFSET $8"
        );
        let count_sql = format!("SELECT COUNT(*) FROM projects p WHERE {filter}");
        let (limit, offset) = options.window.sql();
        let window = options.window;
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<ProjectRow>> = sqlx::query_as(&page_sql)
                .bind(&contains)
                .bind(options.name)
                .bind(options.public)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let count = sqlx::query_scalar(&count_sql)
                .bind(&contains)
                .bind(options.name)
                .bind(options.public)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .fetch_one(pool);
            window.page(rows, count, Project::try_from).await
        }.await)
    }

    pub async fn set_storage_quota(
        &self,
        id: ProjectId,
        quota: Option<i64>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<()> {
        const SQL: &str = "UPDATE projects SET storage_quota = $1, updated_at = $2 WHERE id = $3";
        audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(quota).bind(now).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1
        }, if |updated: &bool| *updated)?;
        Ok(())
    }

    /// Bytes stored per project, in one query for all of `projects`: read
    /// from the counters, however much the projects hold.
    pub async fn storage_used(
        &self,
        projects: &[ProjectId],
        visibility: Visibility,
    ) -> Result<HashMap<ProjectId, i64>> {
        if projects.is_empty() {
            return Ok(HashMap::new());
        }
        // $1..$3 the viewer's visibility, then the projects asked about.
        let placeholders: Vec<String> = (4..4 + projects.len()).map(|n| format!("${n}")).collect();
        let visible = format!(
            "SELECT p.id FROM projects p WHERE p.id IN ({}) AND {}",
            placeholders.join(", "),
            visibility_sql(1)
        );
        let sql = format!("SELECT project_id, bytes FROM project_usage WHERE project_id IN ({visible})");
        let (public_only, member, robot) = visibility.sql_params();
        let used: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            let mut query = sqlx::query_as(&sql).bind(public_only).bind(member).bind(robot);
            for id in projects {
                query = query.bind(id.0);
            }
            query.fetch_all(pool).await
        })?;
        Ok(used.into_iter().map(|(id, bytes)| (ProjectId(id), bytes)).collect())
    }

    /// A page of the projects `visibility` lets the viewer see, by name,
    /// read by keyset (the name index), and how many match in all.
    pub async fn page_by_name(
        &self,
        name_contains: Option<&str>,
        keyset: &Keyset<String>,
        limit: u32,
        visibility: Visibility,
    ) -> Result<Page<Project>> {
        let (public_only, member, robot) = visibility.sql_params();
        let contains = name_contains.map(|needle| like_contains(&needle.to_lowercase()));
        let filter = format!("($1 IS NULL OR p.name LIKE $1 ESCAPE '\\') AND {}", visibility_sql(2));
        let order = if keyset.is_backwards() { "DESC" } else { "ASC" };
        let page_sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE {filter} \
             AND ($5 IS NULL OR p.name > $5) AND ($6 IS NULL OR p.name < $6) ORDER BY p.name {order} LIMIT $7"
        );
        let count_sql = format!("SELECT COUNT(*) FROM projects p WHERE {filter}");
        let (after, before) = keyset.bounds();
        let (rows, total) = on_db!(&self.db, pool => {
            let rows = sqlx::query_as::<_, ProjectRow>(&page_sql)
                .bind(&contains)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .bind(after)
                .bind(before)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count_sql)
                .bind(&contains)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .fetch_one(pool)
                .await?;
            Ok::<_, sqlx::Error>((rows, total))
        })?;
        let projects = rows.into_iter().map(Project::try_from).collect::<Result<Vec<_>>>()?;
        Ok(keyset.page(projects, limit as usize, total))
    }

    pub async fn set_public(&self, id: ProjectId, public: bool, now: DateTime<Utc>, event: &AuditEvent) -> Result<()> {
        const SQL: &str = "UPDATE projects SET public = $1, updated_at = $2 WHERE id = $3";
        audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(public).bind(now).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1
        }, if |updated: &bool| *updated)?;
        Ok(())
    }

    /// Deletes the project unless a repository appeared in it meanwhile,
    /// with the audit row `event` (written first, while the project's id
    /// still names it). Its retention policy goes by cascade; the policy's
    /// schedule, which the job service keeps by kind, goes here.
    pub async fn delete_if_empty(&self, id: ProjectId, event: &AuditEvent) -> Result<bool> {
        const SQL: &str = "DELETE FROM projects WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM repositories r WHERE r.project_id = $1)";
        const SCHEDULES: &str = "DELETE FROM job_schedules \
             WHERE kind IN (SELECT 'retention:' || id FROM retention_policies WHERE project_id = $1)";
        let deleted = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            write_audit_row!(tx, event)?;
            sqlx::query(SCHEDULES).bind(id.0).execute(&mut *tx).await?;
            let deleted = sqlx::query(SQL).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1;
            // Rolled back (row and all) when a repository appeared meanwhile.
            if deleted {
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(deleted)
        }.await)?;
        Ok(deleted)
    }
}
