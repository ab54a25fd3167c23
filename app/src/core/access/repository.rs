//! The SQL behind access decisions.

use crate::{
    core::{
        Result,
        db::Db,
        identity::{RobotId, UserId},
        projects::id::ProjectId,
        rbac::{Action, ProjectFacts, Role},
    },
    on_db,
};

/// The SQL condition on a `projects p` row that a [`super::Visibility`]
/// stands for, over three parameters starting at `$first` (bind
/// [`super::Visibility::sql_params`] there): public only; public or the
/// user is a member (directly or through a group); public or the robot may
/// pull there.
pub(crate) fn visibility_sql(first: usize) -> String {
    let (public, user, robot) = (first, first + 1, first + 2);
    format!(
        "(${public} IS NULL OR p.public = ${public}) \
         AND (${user} IS NULL OR p.public OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id \
              AND (m.user_id = ${user} OR m.group_id IN \
              (SELECT g.group_id FROM user_group_memberships g WHERE g.user_id = ${user})))) \
         AND (${robot} IS NULL OR p.public OR EXISTS (SELECT 1 FROM robot_permissions rp WHERE rp.robot_id = ${robot} \
              AND (rp.project_id = p.id OR rp.project_id IS NULL) AND rp.can_pull))"
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

    /// The project's id and facts; `None` when there is no such project.
    pub async fn project_facts(&self, project: &str) -> Result<Option<(ProjectId, ProjectFacts)>> {
        let row: Option<(i64, bool)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT id, public FROM projects WHERE name = $1").bind(project).fetch_optional(pool).await
        })?;
        Ok(row.map(|(id, public)| (ProjectId(id), ProjectFacts { public })))
    }

    /// The project's id and facts and the user's strongest role in it,
    /// directly or through a group; `None` when there is no such project.
    pub async fn project_facts_and_role(
        &self,
        project: &str,
        user: UserId,
    ) -> Result<Option<(ProjectId, ProjectFacts, Option<Role>)>> {
        // One row per matching membership (or one with a NULL role for none).
        const SQL: &str = "SELECT p.id, p.public, m.role FROM projects p \
             LEFT JOIN project_members m ON m.project_id = p.id AND (m.user_id = $2 OR m.group_id IN \
             (SELECT g.group_id FROM user_group_memberships g WHERE g.user_id = $2)) \
             WHERE p.name = $1";
        let rows: Vec<(i64, bool, Option<String>)> = on_db!(&self.db, pool => {
            sqlx::query_as(SQL).bind(project).bind(user.0).fetch_all(pool).await
        })?;
        let Some((id, public, _)) = rows.first() else {
            return Ok(None);
        };
        let role = rows.iter().filter_map(|(.., role)| role.as_deref().and_then(Role::parse)).max();
        Ok(Some((ProjectId(*id), ProjectFacts { public: *public }, role)))
    }

    /// The project's id and facts and what the robot was granted there
    /// (directly or through an all-projects permission); `None` when there
    /// is no such project.
    pub async fn project_facts_and_grants(
        &self,
        project: &str,
        robot: RobotId,
    ) -> Result<Option<(ProjectId, ProjectFacts, Vec<Action>)>> {
        const SQL: &str = "SELECT p.id, p.public, rp.can_pull, rp.can_push, rp.can_delete FROM projects p \
             LEFT JOIN robot_permissions rp ON rp.robot_id = $2 AND (rp.project_id = p.id OR rp.project_id IS NULL) \
             WHERE p.name = $1";
        type Row = (i64, bool, Option<bool>, Option<bool>, Option<bool>);
        let rows: Vec<Row> = on_db!(&self.db, pool => {
            sqlx::query_as(SQL).bind(project).bind(robot.0).fetch_all(pool).await
        })?;
        let Some((id, public, ..)) = rows.first() else {
            return Ok(None);
        };
        let mut granted = Vec::new();
        for (_, _, pull, push, delete) in &rows {
            for (has, action) in [(pull, Action::Pull), (push, Action::Push), (delete, Action::DeleteArtifact)] {
                if *has == Some(true) && !granted.contains(&action) {
                    granted.push(action);
                }
            }
        }
        Ok(Some((ProjectId(*id), ProjectFacts { public: *public }, granted)))
    }
}
