//! Who may do what: the one place every permission is decided. The `/v2`
//! API, the token service, server functions and REST routes all ask
//! [`decide`] (through the access service), never a role directly.
//!
//! The matrix follows Harbor's: five project roles, system administrators
//! who may do everything, anonymous pulls from public projects only, and
//! robot accounts that hold exactly the actions they were granted.

use std::fmt;

/// A member's role in a project, weakest first (so `max` picks the strongest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    LimitedGuest,
    Guest,
    Developer,
    Maintainer,
    ProjectAdmin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::LimitedGuest, Role::Guest, Role::Developer, Role::Maintainer, Role::ProjectAdmin];

    /// The stable name used in the database and the APIs.
    pub fn name(self) -> &'static str {
        match self {
            Role::LimitedGuest => "limited_guest",
            Role::Guest => "guest",
            Role::Developer => "developer",
            Role::Maintainer => "maintainer",
            Role::ProjectAdmin => "project_admin",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }

    /// Harbor's numeric role ids (1 admin, 2 developer, 3 guest, 4 maintainer, 5 limited guest).
    pub fn harbor_id(self) -> i64 {
        match self {
            Role::ProjectAdmin => 1,
            Role::Developer => 2,
            Role::Guest => 3,
            Role::Maintainer => 4,
            Role::LimitedGuest => 5,
        }
    }

    pub fn from_harbor_id(id: i64) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.harbor_id() == id)
    }

    /// Whether this role includes `action` (Harbor's permission matrix).
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        let least = match action {
            Pull => Role::LimitedGuest,
            ReadMembers | ReadLogs | ReadTagPolicies => Role::Guest,
            Push | EditRepository => Role::Developer,
            DeleteArtifact | ManageTags | ManageRobots | ManageTagPolicies => Role::Maintainer,
            ManageMembers | EditProject | DeleteProject => Role::ProjectAdmin,
        };
        self >= least
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something a principal may do in a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Pull,
    Push,
    DeleteArtifact,
    /// Create, move and delete tags outside a push (the portal, the REST API).
    ManageTags,
    /// Change a repository's description.
    EditRepository,
    ReadMembers,
    ManageMembers,
    ManageRobots,
    ReadLogs,
    EditProject,
    DeleteProject,
    /// Read the project's tag immutability and retention rules.
    ReadTagPolicies,
    /// Change them (and run retention).
    ManageTagPolicies,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Pull,
        Action::Push,
        Action::DeleteArtifact,
        Action::ManageTags,
        Action::EditRepository,
        Action::ReadMembers,
        Action::ManageMembers,
        Action::ManageRobots,
        Action::ReadLogs,
        Action::EditProject,
        Action::DeleteProject,
        Action::ReadTagPolicies,
        Action::ManageTagPolicies,
    ];

    /// Actions a robot account may be granted.
    pub const ROBOT_GRANTABLE: [Action; 3] = [Action::Pull, Action::Push, Action::DeleteArtifact];

    pub fn name(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::DeleteArtifact => "delete",
            Action::ManageTags => "manage_tags",
            Action::EditRepository => "edit_repository",
            Action::ReadMembers => "read_members",
            Action::ManageMembers => "manage_members",
            Action::ManageRobots => "manage_robots",
            Action::ReadLogs => "read_logs",
            Action::EditProject => "edit_project",
            Action::DeleteProject => "delete_project",
            Action::ReadTagPolicies => "read_tag_policies",
            Action::ManageTagPolicies => "manage_tag_policies",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something only a system administrator may do: administering the system
/// rather than one project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SystemAction {
    /// Create, list and delete accounts; change another account's password,
    /// profile or administrator flag.
    ManageUsers,
    /// List and delete LDAP and OIDC groups.
    ManageGroups,
    /// Read and change login settings, self-registration and who may create
    /// projects; test an LDAP or OIDC configuration.
    ManageSettings,
    /// Set or lift a project's storage quota.
    ManageQuotas,
    /// Create and manage system robots and grants in every project.
    ManageSystemRobots,
    /// Read the whole audit log, across projects.
    ReadAuditLog,
    /// Create a project (and become its project admin): any signed-in user,
    /// unless an administrator restricted it to administrators.
    CreateProject,
    /// Run, schedule and stop background jobs (garbage collection, log
    /// rotation) and read their history.
    ManageJobs,
    /// Add and change remote registries and replication policies, run
    /// replications and read their executions (the saved credentials are
    /// never shown, even so).
    ManageReplication,
}

impl SystemAction {
    pub const ALL: [SystemAction; 9] = [
        SystemAction::ManageUsers,
        SystemAction::ManageGroups,
        SystemAction::ManageSettings,
        SystemAction::ManageQuotas,
        SystemAction::ManageSystemRobots,
        SystemAction::ReadAuditLog,
        SystemAction::CreateProject,
        SystemAction::ManageJobs,
        SystemAction::ManageReplication,
    ];

    /// What the refusal says: "only system administrators {phrase}".
    pub fn phrase(self) -> &'static str {
        match self {
            SystemAction::ManageUsers => "manage user accounts",
            SystemAction::ManageGroups => "manage user groups",
            SystemAction::ManageSettings => "change system settings",
            SystemAction::ManageQuotas => "change storage quotas",
            SystemAction::ManageSystemRobots => "manage system robots and grants in every project",
            SystemAction::ReadAuditLog => "read the whole audit log",
            SystemAction::CreateProject => "create projects here",
            SystemAction::ManageJobs => "run and schedule background jobs",
            SystemAction::ManageReplication => "manage registries and replication",
        }
    }
}

/// Who is asking, as far as permissions go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    /// A signed-in user; `role` is their strongest role in the project in
    /// question (directly or through a group), if any.
    User {
        system_admin: bool,
        role: Option<Role>,
    },
    /// A robot account: exactly the actions granted to it in the project in question.
    Robot {
        granted: Vec<Action>,
    },
}

/// What [`decide`] needs to know about the project in question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectFacts {
    pub public: bool,
}

/// The decision for one action in one project.
pub fn decide(subject: &Subject, project: ProjectFacts, action: Action) -> bool {
    let public_pull = project.public && action == Action::Pull;
    match subject {
        Subject::Anonymous => public_pull,
        Subject::User { system_admin: true, .. } => true,
        Subject::User { system_admin: false, role } => public_pull || role.is_some_and(|r| r.allows(action)),
        Subject::Robot { granted } => {
            public_pull || (Action::ROBOT_GRANTABLE.contains(&action) && granted.contains(&action))
        }
    }
}

/// What [`decide_system`] needs to know about the system's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemFacts {
    /// An administrator restricted creating projects to administrators.
    pub project_creation_restricted: bool,
}

impl SystemFacts {
    /// What to assume when the settings were not read: the restrictive choice.
    pub const RESTRICTIVE: SystemFacts = SystemFacts { project_creation_restricted: true };
}

/// The decision for one system action: system administrators may do every
/// one; other signed-in users only create projects, when that is not
/// restricted.
pub fn decide_system(subject: &Subject, facts: SystemFacts, action: SystemAction) -> bool {
    match subject {
        Subject::User { system_admin: true, .. } => true,
        Subject::User { system_admin: false, .. } => {
            action == SystemAction::CreateProject && !facts.project_creation_restricted
        }
        Subject::Anonymous | Subject::Robot { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: ProjectFacts = ProjectFacts { public: false };
    const PUBLIC: ProjectFacts = ProjectFacts { public: true };

    /// Harbor's matrix, row by row: the roles that may do each action.
    #[test]
    fn roles_follow_the_permission_matrix() {
        use Action::*;
        use Role::*;
        let table: [(Action, &[Role]); 11] = [
            (Pull, &[LimitedGuest, Guest, Developer, Maintainer, ProjectAdmin]),
            (ReadMembers, &[Guest, Developer, Maintainer, ProjectAdmin]),
            (ReadLogs, &[Guest, Developer, Maintainer, ProjectAdmin]),
            (Push, &[Developer, Maintainer, ProjectAdmin]),
            (EditRepository, &[Developer, Maintainer, ProjectAdmin]),
            (DeleteArtifact, &[Maintainer, ProjectAdmin]),
            (ManageTags, &[Maintainer, ProjectAdmin]),
            (ManageRobots, &[Maintainer, ProjectAdmin]),
            (ManageMembers, &[ProjectAdmin]),
            (EditProject, &[ProjectAdmin]),
            (DeleteProject, &[ProjectAdmin]),
        ];
        for (action, allowed) in table {
            for role in Role::ALL {
                let subject = Subject::User { system_admin: false, role: Some(role) };
                assert_eq!(decide(&subject, PRIVATE, action), allowed.contains(&role), "{role} {action}");
            }
        }
    }

    #[test]
    fn outsiders_only_pull_public_projects() {
        for subject in [Subject::Anonymous, Subject::User { system_admin: false, role: None }] {
            assert!(decide(&subject, PUBLIC, Action::Pull));
            assert!(!decide(&subject, PRIVATE, Action::Pull));
            for action in Action::ALL.into_iter().filter(|a| *a != Action::Pull) {
                assert!(!decide(&subject, PUBLIC, action), "{subject:?} {action}");
            }
        }
    }

    #[test]
    fn system_administrators_may_do_everything() {
        let admin = Subject::User { system_admin: true, role: None };
        assert!(Action::ALL.into_iter().all(|action| decide(&admin, PRIVATE, action)));
        for facts in [SystemFacts::RESTRICTIVE, SystemFacts { project_creation_restricted: false }] {
            assert!(SystemAction::ALL.into_iter().all(|action| decide_system(&admin, facts, action)));
        }
    }

    #[test]
    fn only_system_administrators_administer_the_system() {
        let others = [
            Subject::Anonymous,
            Subject::User { system_admin: false, role: Some(Role::ProjectAdmin) },
            Subject::Robot { granted: Action::ROBOT_GRANTABLE.to_vec() },
        ];
        for subject in &others {
            for action in SystemAction::ALL {
                assert!(!decide_system(subject, SystemFacts::RESTRICTIVE, action), "{subject:?} {action:?}");
            }
        }
        // Unrestricted, signed-in users create projects; robots and anonymous callers still may not.
        let open = SystemFacts { project_creation_restricted: false };
        let [anonymous, user, robot] = &others;
        assert!(decide_system(user, open, SystemAction::CreateProject));
        assert!(!decide_system(user, open, SystemAction::ManageSettings));
        assert!(!decide_system(anonymous, open, SystemAction::CreateProject));
        assert!(!decide_system(robot, open, SystemAction::CreateProject));
    }

    #[test]
    fn robots_never_exceed_their_grants() {
        let puller = Subject::Robot { granted: vec![Action::Pull] };
        assert!(decide(&puller, PRIVATE, Action::Pull));
        assert!(!decide(&puller, PRIVATE, Action::Push));
        let overreaching = Subject::Robot { granted: vec![Action::Push, Action::ManageMembers] };
        assert!(decide(&overreaching, PRIVATE, Action::Push));
        assert!(!decide(&overreaching, PRIVATE, Action::ManageMembers), "not grantable to robots");
        assert!(decide(&Subject::Robot { granted: vec![] }, PUBLIC, Action::Pull));
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
            assert_eq!(Role::from_harbor_id(role.harbor_id()), Some(role));
        }
        for action in Action::ALL {
            assert_eq!(Action::parse(action.name()), Some(action));
        }
    }
}
