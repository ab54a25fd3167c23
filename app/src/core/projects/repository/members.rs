//! All SQL touching a project's members (users and groups, with a role).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::ProjectRepository;
use crate::{
    core::{
        Error, Result,
        db::{Counted, Keyset, NameCursor, Page, Window, like_contains},
        events::{AuditEvent, audited_transaction},
        identity::UserId,
        projects::{Member, MemberRef, ProjectId},
        rbac::Role,
    },
    on_db,
};

/// What adding a member does to one that already is a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Change its role.
    Update,
    /// Leave it as it is.
    Keep,
}

/// A project's members with their names: `$1` is the project's id.
const MEMBERS: &str = "SELECT m.id, m.user_id, m.group_id, COALESCE(u.username, g.name) AS name, m.role, m.created_at \
     FROM project_members m LEFT JOIN users u ON u.id = m.user_id LEFT JOIN user_groups g ON g.id = m.group_id \
     WHERE m.project_id = $1";

/// The columns of [`MemberRow`], read from [`MEMBERS`] as `x`.
const MEMBER_COLUMNS: &str = "x.id, x.user_id, x.group_id, x.name, x.role, x.created_at";

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: i64,
    user_id: Option<i64>,
    group_id: Option<i64>,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<MemberRow> for Member {
    type Error = Error;

    fn try_from(row: MemberRow) -> Result<Self> {
        let role =
            Role::parse(&row.role).ok_or_else(|| Error::corrupt(format!("stored role {:?} is unknown", row.role)))?;
        let member = match (row.user_id, row.group_id) {
            (Some(user), _) => MemberRef::User(UserId(user)),
            (None, Some(group)) => MemberRef::Group(group),
            (None, None) => return Err(Error::corrupt("a member with neither user nor group")),
        };
        Ok(Member { id: row.id, member, name: row.name, role, created_at: row.created_at })
    }
}

impl ProjectRepository {
    /// Adds a member or, with `Existing::Update`, changes the role of one
    /// that already is; with the audit row `event` when something changed.
    /// The membership's id; `None` when it existed and `Existing::Keep`.
    pub async fn set_member(
        &self,
        project: ProjectId,
        member: MemberRef,
        role: Role,
        existing: Existing,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<Option<i64>> {
        let (user, group, conflict) = match member {
            MemberRef::User(user) => (Some(user.0), None, "(project_id, user_id)"),
            MemberRef::Group(group) => (None, Some(group), "(project_id, group_id)"),
        };
        let on_conflict = match existing {
            Existing::Update => "DO UPDATE SET role = excluded.role",
            Existing::Keep => "DO NOTHING",
        };
        let sql = format!(
            "INSERT INTO project_members (project_id, user_id, group_id, role, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT {conflict} {on_conflict} RETURNING id"
        );
        let id: Option<i64> = audited_transaction!(&self.db, event, |tx| {
            sqlx::query_scalar(&sql)
                .bind(project.0)
                .bind(user)
                .bind(group)
                .bind(role.name())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
        }, if |id: &Option<i64>| id.is_some())?;
        Ok(id)
    }

    /// One membership of the project by its id.
    pub async fn member(&self, project: ProjectId, id: i64) -> Result<Option<Member>> {
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM ({MEMBERS}) x WHERE x.id = $2");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, MemberRow>(&sql).bind(project.0).bind(id).fetch_optional(pool).await
        })?;
        row.map(Member::try_from).transpose()
    }

    /// Removes a member, with the audit row `event` when there was one.
    pub async fn remove_member(&self, project: ProjectId, member: MemberRef, event: &AuditEvent) -> Result<bool> {
        let (sql, id) = match member {
            MemberRef::User(user) => ("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2", user.0),
            MemberRef::Group(group) => ("DELETE FROM project_members WHERE project_id = $1 AND group_id = $2", group),
        };
        let removed = audited_transaction!(&self.db, event, |tx| {
            sqlx::query(sql).bind(project.0).bind(id).execute(&mut *tx).await?.rows_affected() == 1
        }, if |removed: &bool| *removed)?;
        Ok(removed)
    }

    /// A page of a project's members by name (then id), those whose name
    /// contains `name_contains` (in any case), and how many match.
    pub async fn members(
        &self,
        project: ProjectId,
        name_contains: Option<&str>,
        window: Window,
    ) -> Result<Page<Member>> {
        const FILTER: &str = "($2 IS NULL OR lower(x.name) LIKE $2 ESCAPE '\\')";
        let page = format!(
            "SELECT {MEMBER_COLUMNS}, COUNT(*) OVER () AS total FROM ({MEMBERS}) x WHERE {FILTER} \
             ORDER BY x.name, x.id LIMIT $3 OFFSET $4"
        );
        let count = format!("SELECT COUNT(*) FROM ({MEMBERS}) x WHERE {FILTER}");
        let pattern = name_contains.map(|needle| like_contains(&needle.to_lowercase()));
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<MemberRow>> =
                sqlx::query_as(&page).bind(project.0).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            let count = sqlx::query_scalar(&count).bind(project.0).bind(&pattern).fetch_one(pool);
            window.page(rows, count, Member::try_from).await
        }.await)
    }

    /// A page of a project's members by name (then id), and how many there are.
    pub async fn members_page(
        &self,
        project: ProjectId,
        keyset: &Keyset<NameCursor>,
        limit: u32,
    ) -> Result<Page<Member>> {
        const COUNT: &str = "SELECT COUNT(*) FROM project_members WHERE project_id = $1";
        let (cursor, cmp, order) = match keyset {
            Keyset::First => (None, ">", "ASC"),
            Keyset::After(cursor) => (Some(cursor), ">", "ASC"),
            Keyset::Before(cursor) => (Some(cursor), "<", "DESC"),
        };
        let position = NameCursor::condition("x.name", "x.id", cmp, 2);
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM ({MEMBERS}) x WHERE {position} ORDER BY x.name {order}, x.id {order} LIMIT $4"
        );
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, MemberRow>(&sql)
                .bind(project.0)
                .bind(cursor.map(|c| c.name.as_str()))
                .bind(cursor.map(|c| c.id))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(COUNT).bind(project.0).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        let members = rows.into_iter().map(Member::try_from).collect::<Result<Vec<_>>>()?;
        Ok(keyset.page(members, limit as usize, total))
    }

    /// How many of a project's members hold each role.
    pub async fn members_by_role(&self, project: ProjectId) -> Result<HashMap<Role, i64>> {
        const SQL: &str = "SELECT role, COUNT(*) FROM project_members WHERE project_id = $1 GROUP BY role";
        let rows: Vec<(String, i64)> =
            on_db!(&self.db, pool => sqlx::query_as(SQL).bind(project.0).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(role, count)| {
                let role = Role::parse(&role).ok_or_else(|| Error::corrupt(format!("stored role {role:?}")))?;
                Ok((role, count))
            })
            .collect()
    }

    /// The username or group name of a member, for the audit log.
    pub async fn member_name(&self, member: MemberRef) -> Result<Option<String>> {
        let (sql, id) = match member {
            MemberRef::User(user) => ("SELECT username FROM users WHERE id = $1", user.0),
            MemberRef::Group(group) => ("SELECT name FROM user_groups WHERE id = $1", group),
        };
        let name: Option<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await
        })?;
        Ok(name)
    }
}
