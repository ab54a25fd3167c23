//! The SQL behind access decisions.

use crate::{
    core::{
        Result,
        db::Db,
        rbac::{ProjectFacts, Role},
        users::UserId,
    },
    on_db,
};

/// An SQL condition on a `projects p` row: public, or `$N` is a member of it
/// (directly or through one of their groups).
pub(crate) fn visible_to_user_sql(param: usize) -> String {
    format!(
        "(p.public OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id \
         AND (m.user_id = ${param} OR m.group_id IN \
         (SELECT g.group_id FROM user_group_memberships g WHERE g.user_id = ${param}))))"
    )
}

#[derive(Clone, Debug)]
pub struct AccessRepository {
    db: Db,
}

impl AccessRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn project_facts(&self, project: &str) -> Result<Option<ProjectFacts>> {
        let public: Option<bool> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT public FROM projects WHERE name = $1").bind(project).fetch_optional(pool).await
        })?;
        Ok(public.map(|public| ProjectFacts { public }))
    }

    /// The project's facts and the user's strongest role in it, directly or
    /// through a group; `None` when there is no such project.
    pub async fn project_facts_and_role(
        &self,
        project: &str,
        user: UserId,
    ) -> Result<Option<(ProjectFacts, Option<Role>)>> {
        // One row per matching membership (or one with a NULL role for none).
        const SQL: &str = "SELECT p.public, m.role FROM projects p \
             LEFT JOIN project_members m ON m.project_id = p.id AND (m.user_id = $2 OR m.group_id IN \
             (SELECT g.group_id FROM user_group_memberships g WHERE g.user_id = $2)) \
             WHERE p.name = $1";
        let rows: Vec<(bool, Option<String>)> = on_db!(&self.db, pool => {
            sqlx::query_as(SQL).bind(project).bind(user.0).fetch_all(pool).await
        })?;
        let Some((public, _)) = rows.first() else {
            return Ok(None);
        };
        let role = rows.iter().filter_map(|(_, role)| role.as_deref().and_then(Role::parse)).max();
        Ok(Some((ProjectFacts { public: *public }, role)))
    }
}
