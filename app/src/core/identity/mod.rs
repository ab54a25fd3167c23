//! Who is acting: the [`Principal`] whose credentials were checked and the
//! [`Actor`] (a principal and the address it came from) that services,
//! access grants and the audit log take. The edges (`/v2`, the token
//! service, REST, server functions) build actors; everything below them
//! receives one. This module sits under every service and imports none of them.

pub mod robot;
pub mod user;

pub use robot::{ROBOT_PREFIX, Robot, RobotId, RobotPermission};
pub use user::{AuthSource, User, UserId, Username};

/// Who is making a request, once credentials have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User(User),
    Robot(Robot),
    /// The holder of a registry token this registry signed, known by the
    /// token's subject alone: what it may do is what the token says,
    /// re-checked by `AccessService::holder_decision`. Decisions asked by
    /// principal treat it as anonymous (they fail closed).
    TokenHolder(String),
    /// One of this registry's own background jobs, acting on its content
    /// (replication reading what it copies out, writing what it copies in):
    /// made only in code, never from credentials; audited by its name.
    Job(&'static str),
}

impl Principal {
    /// The name recorded in events and tokens (`None` for anonymous callers).
    pub fn name(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::User(user) => Some(user.username.as_str()),
            Principal::Robot(robot) => Some(robot.name.as_str()),
            Principal::TokenHolder(name) => Some(name.as_str()),
            Principal::Job(name) => Some(name),
        }
    }

    /// Which projects' content this principal may list.
    pub fn visibility(&self) -> Visibility {
        match self {
            Principal::Anonymous | Principal::TokenHolder(_) => Visibility::PublicOnly,
            Principal::User(user) if user.is_admin => Visibility::All,
            Principal::Job(_) => Visibility::All,
            Principal::User(user) => Visibility::MemberOrPublic(user.id),
            Principal::Robot(robot) => Visibility::GrantedOrPublic(robot.id),
        }
    }
}

/// A principal acting, and from where: what management operations take, so
/// the audit log can say who did it from which address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub principal: Principal,
    pub client_addr: Option<String>,
}

impl From<Principal> for Actor {
    fn from(principal: Principal) -> Self {
        Self { principal, client_addr: None }
    }
}

/// Which projects a listing may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    All,
    PublicOnly,
    /// Public projects and those the user is a member of (directly or through a group).
    MemberOrPublic(UserId),
    /// Public projects and those the robot may pull from.
    GrantedOrPublic(RobotId),
}

impl Visibility {
    /// The three SQL parameters of `access::visibility_sql`: "public only", "member
    /// or public" and "granted or public", each `NULL` when it does not apply.
    pub(crate) fn sql_params(self) -> (Option<bool>, Option<i64>, Option<i64>) {
        match self {
            Visibility::All => (None, None, None),
            Visibility::PublicOnly => (Some(true), None, None),
            Visibility::MemberOrPublic(user) => (None, Some(user.0), None),
            Visibility::GrantedOrPublic(robot) => (None, None, Some(robot.0)),
        }
    }
}
