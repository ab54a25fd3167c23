//! All SQL touching robot accounts and their permissions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::core::identity::{Robot, RobotId, RobotPermission};
use crate::{
    core::{
        Error, Result,
        db::{Counted, Db, Keyset, NameCursor, Page, Window, begin_writing, total_of},
        events::{AuditEvent, audited_transaction, write_audit_row},
        rbac::Action,
    },
    on_db,
};

pub struct InsertRobot<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub project: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub secret_hash: &'a str,
    pub created_by: &'a str,
    pub permissions: &'a [RobotPermission],
    pub now: DateTime<Utc>,
}

/// What [`RobotRepository::update`] changes; `None` leaves a column alone.
pub struct RobotUpdate<'a> {
    pub description: Option<&'a str>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Replaces all the robot's permissions.
    pub permissions: Option<&'a [RobotPermission]>,
    pub disabled: Option<bool>,
    pub now: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RobotRow {
    id: i64,
    name: String,
    description: String,
    project: Option<String>,
    disabled: bool,
    expires_at: Option<DateTime<Utc>>,
    created_by: String,
    created_at: DateTime<Utc>,
    secret_hash: String,
}

#[derive(sqlx::FromRow)]
struct PermissionRow {
    robot_id: i64,
    project: Option<String>,
    can_pull: bool,
    can_push: bool,
    can_delete: bool,
}

/// Why a robot write changed nothing (and committed nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    NameTaken,
    /// A project the robot was to belong to or be granted in was deleted
    /// after the permission check.
    ProjectGone(String),
    /// The robot was deleted after the permission check.
    RobotGone,
}

impl Refused {
    /// The refusal as the core's error, naming the robot.
    pub fn into_error(self, robot: &str) -> Error {
        match self {
            Self::NameTaken => Error::Conflict(format!("a robot named {robot} already exists")),
            Self::ProjectGone(project) => Error::NotFound(format!("project {project}")),
            Self::RobotGone => Error::NotFound(format!("robot {robot}")),
        }
    }
}

/// A write that lost a race with a project's deletion: the project row was
/// gone by the time the foreign key was checked.
fn project_deleted_meanwhile<T>(
    written: std::result::Result<std::result::Result<T, Refused>, sqlx::Error>,
    project: Option<&str>,
) -> Result<std::result::Result<T, Refused>> {
    match written {
        Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => {
            Ok(Err(Refused::ProjectGone(project.unwrap_or_default().to_owned())))
        }
        other => Ok(other?),
    }
}

/// Inserts a robot's permission rows inside the transaction `$tx`; the
/// same statements on either database, so written once. A project that is
/// gone refuses the whole write.
macro_rules! insert_permissions {
    ($tx:ident, $id:expr, $permissions:expr) => {
        for permission in $permissions {
            const IN_PROJECT: &str = "INSERT INTO robot_permissions (robot_id, project_id, can_pull, can_push, can_delete) \
                 SELECT $1, p.id, $3, $4, $5 FROM projects p WHERE p.name = $2";
            const EVERYWHERE: &str = "INSERT INTO robot_permissions (robot_id, project_id, can_pull, can_push, can_delete) \
                 VALUES ($1, NULL, $2, $3, $4)";
            let has = |action| permission.actions.contains(&action);
            let (pull, push, delete) = (has(Action::Pull), has(Action::Push), has(Action::DeleteArtifact));
            match &permission.project {
                Some(project) => {
                    let inserted = sqlx::query(IN_PROJECT)
                        .bind($id).bind(project).bind(pull).bind(push).bind(delete)
                        .execute(&mut *$tx).await?.rows_affected();
                    if inserted == 0 {
                        return Ok(Err(Refused::ProjectGone(project.clone())));
                    }
                }
                None => {
                    sqlx::query(EVERYWHERE).bind($id).bind(pull).bind(push).bind(delete).execute(&mut *$tx).await?;
                }
            }
        }
    };
}

const ROBOT_SELECT: &str = "SELECT r.id, r.name, r.description, p.name AS project, r.disabled, r.expires_at, \
     r.created_by, r.created_at, r.secret_hash FROM robots r LEFT JOIN projects p ON p.id = r.project_id";

#[derive(Clone, Debug)]
pub struct RobotRepository {
    db: Db,
}

impl RobotRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Stores a robot, its permissions and the audit row `event` in one
    /// transaction, or nothing: when the name is taken, or a project it
    /// names was deleted meanwhile.
    pub async fn create(
        &self,
        new: InsertRobot<'_>,
        event: &AuditEvent,
    ) -> Result<std::result::Result<RobotId, Refused>> {
        // A no-op write, not a read: it holds the project against a delete
        // until this commits.
        const PROJECT: &str = "UPDATE projects SET updated_at = updated_at WHERE name = $1 RETURNING id";
        const ROBOT: &str = "INSERT INTO robots (name, description, project_id, secret_hash, expires_at, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (name) DO NOTHING RETURNING id";
        let written = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let project_id: Option<i64> = match new.project {
                None => None,
                Some(project) => match sqlx::query_scalar(PROJECT).bind(project).fetch_optional(&mut *tx).await? {
                    Some(id) => Some(id),
                    None => return Ok(Err(Refused::ProjectGone(project.to_owned()))),
                },
            };
            let id: Option<i64> = sqlx::query_scalar(ROBOT)
                .bind(new.name)
                .bind(new.description)
                .bind(project_id)
                .bind(new.secret_hash)
                .bind(new.expires_at)
                .bind(new.created_by)
                .bind(new.now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(id) = id else {
                return Ok::<_, sqlx::Error>(Err(Refused::NameTaken));
            };
            insert_permissions!(tx, id, new.permissions);
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok(Ok(RobotId(id)))
        }.await);
        project_deleted_meanwhile(written, new.project)
    }

    pub async fn find(&self, id: RobotId) -> Result<Option<Robot>> {
        let sql = format!("{ROBOT_SELECT} WHERE r.id = $1");
        let row = on_db!(&self.db, pool => sqlx::query_as::<_, RobotRow>(&sql).bind(id.0).fetch_optional(pool).await)?;
        Ok(self.with_permissions(row.into_iter().collect()).await?.pop().map(|(robot, _)| robot))
    }

    /// The robot and its stored secret digest.
    pub async fn find_with_secret(&self, name: &str) -> Result<Option<(Robot, String)>> {
        let sql = format!("{ROBOT_SELECT} WHERE r.name = $1");
        let row = on_db!(&self.db, pool => sqlx::query_as::<_, RobotRow>(&sql).bind(name).fetch_optional(pool).await)?;
        Ok(self.with_permissions(row.into_iter().collect()).await?.pop())
    }

    /// Whether the robot is disabled and when it expires, without the rest.
    pub async fn usable_state(&self, name: &str) -> Result<Option<(bool, Option<DateTime<Utc>>)>> {
        let state = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT disabled, expires_at FROM robots WHERE name = $1").bind(name).fetch_optional(pool).await
        })?;
        Ok(state)
    }

    /// A page of a project's robots, or of the system robots (`None`), by name.
    pub async fn list(&self, project: Option<&str>, window: Window) -> Result<Page<Robot>> {
        // $1 the project's name; NULL for the system robots, which have none.
        const FILTER: &str = "(($1 IS NULL AND r.project_id IS NULL) OR p.name = $1)";
        let sql = format!(
            "{} WHERE {FILTER} ORDER BY r.name, r.id LIMIT $2 OFFSET $3",
            ROBOT_SELECT.replacen(" FROM robots r", ", COUNT(*) OVER () AS total FROM robots r", 1)
        );
        let count = format!("SELECT COUNT(*) FROM robots r LEFT JOIN projects p ON p.id = r.project_id WHERE {FILTER}");
        let (limit, offset) = window.sql();
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows: Vec<Counted<RobotRow>> =
                sqlx::query_as(&sql).bind(project).bind(limit).bind(offset).fetch_all(pool).await?;
            let total = total_of(&rows, window, sqlx::query_scalar(&count).bind(project).fetch_one(pool)).await?;
            Ok::<_, Error>((rows, total))
        }.await)?;
        let rows = rows.into_iter().map(|counted| counted.row).collect();
        let robots = self.with_permissions(rows).await?.into_iter().map(|(robot, _)| robot).collect();
        Ok(Page::at(window, robots, total))
    }

    /// A page of a project's robots by name (then id), and how many it has.
    pub async fn page(&self, project: &str, keyset: &Keyset<NameCursor>, limit: u32) -> Result<Page<Robot>> {
        const COUNT: &str = "SELECT COUNT(*) FROM robots r JOIN projects p ON p.id = r.project_id WHERE p.name = $1";
        let (cmp, order) = if keyset.is_backwards() { ("<", "DESC") } else { (">", "ASC") };
        let sql = format!(
            "{ROBOT_SELECT} WHERE p.name = $1 AND {} ORDER BY r.name {order}, r.id {order} LIMIT $4",
            NameCursor::condition("r.name", "r.id", cmp, 2)
        );
        let cursor = keyset.bounds().0.or(keyset.bounds().1);
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, RobotRow>(&sql)
                .bind(project)
                .bind(cursor.map(|c| c.name.as_str()))
                .bind(cursor.map(|c| c.id))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(COUNT).bind(project).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        let robots = self.with_permissions(rows).await?.into_iter().map(|(robot, _)| robot).collect();
        Ok(keyset.page(robots, limit as usize, total))
    }

    pub async fn set_secret(
        &self,
        id: RobotId,
        secret_hash: &str,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<()> {
        const SQL: &str = "UPDATE robots SET secret_hash = $1, updated_at = $2 WHERE id = $3";
        audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(secret_hash).bind(now).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1
        }, if |updated: &bool| *updated)?;
        Ok(())
    }

    /// Applies an update and writes its audit row `event` in one
    /// transaction, or nothing: when the robot, or a project it is to be
    /// granted in, was deleted meanwhile.
    pub async fn update(
        &self,
        id: RobotId,
        update: &RobotUpdate<'_>,
        event: &AuditEvent,
    ) -> Result<std::result::Result<(), Refused>> {
        const ROBOT: &str = "UPDATE robots SET description = COALESCE($1, description), \
             expires_at = CASE WHEN $2 THEN $3 ELSE expires_at END, \
             disabled = COALESCE($4, disabled), updated_at = $5 WHERE id = $6";
        let written = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let updated = sqlx::query(ROBOT)
                .bind(update.description)
                .bind(update.expires_at.is_some())
                .bind(update.expires_at.flatten())
                .bind(update.disabled)
                .bind(update.now)
                .bind(id.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                return Ok(Err(Refused::RobotGone));
            }
            if let Some(permissions) = update.permissions {
                sqlx::query("DELETE FROM robot_permissions WHERE robot_id = $1").bind(id.0).execute(&mut *tx).await?;
                insert_permissions!(tx, id.0, permissions);
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(()))
        }.await);
        project_deleted_meanwhile(written, None)
    }

    pub async fn set_disabled(
        &self,
        id: RobotId,
        disabled: bool,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<()> {
        const SQL: &str = "UPDATE robots SET disabled = $1, updated_at = $2 WHERE id = $3";
        audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(disabled).bind(now).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1
        }, if |updated: &bool| *updated)?;
        Ok(())
    }

    pub async fn delete(&self, id: RobotId, event: &AuditEvent) -> Result<()> {
        const SQL: &str = "DELETE FROM robots WHERE id = $1";
        audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1
        }, if |deleted: &bool| *deleted)?;
        Ok(())
    }

    /// Attaches every robot's permissions, in one query for all of them.
    async fn with_permissions(&self, rows: Vec<RobotRow>) -> Result<Vec<(Robot, String)>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT rp.robot_id, p.name AS project, rp.can_pull, rp.can_push, rp.can_delete \
             FROM robot_permissions rp LEFT JOIN projects p ON p.id = rp.project_id \
             WHERE rp.robot_id IN ({}) ORDER BY p.name",
            placeholders.join(", ")
        );
        let permissions: Vec<PermissionRow> = on_db!(&self.db, pool => {
            let mut query = sqlx::query_as::<_, PermissionRow>(&sql);
            for row in &rows {
                query = query.bind(row.id);
            }
            query.fetch_all(pool).await
        })?;
        let mut by_robot: HashMap<i64, Vec<RobotPermission>> = HashMap::new();
        for p in permissions {
            let actions =
                [(p.can_pull, Action::Pull), (p.can_push, Action::Push), (p.can_delete, Action::DeleteArtifact)]
                    .into_iter()
                    .filter_map(|(granted, action)| granted.then_some(action))
                    .collect();
            by_robot.entry(p.robot_id).or_default().push(RobotPermission { project: p.project, actions });
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let robot = Robot {
                    id: RobotId(row.id),
                    permissions: by_robot.remove(&row.id).unwrap_or_default(),
                    name: row.name,
                    description: row.description,
                    project: row.project,
                    disabled: row.disabled,
                    expires_at: row.expires_at,
                    created_by: row.created_by,
                    created_at: row.created_at,
                };
                (robot, row.secret_hash)
            })
            .collect())
    }
}
