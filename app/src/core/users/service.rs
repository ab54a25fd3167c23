//! Accounts: an administrator creates database accounts (and may make
//! them administrators), people register themselves when an administrator
//! has allowed it (never as administrators), and everyone changes their own
//! password and profile. Every change is audited with it. The first
//! administrator is created here on first start. Signing in is
//! [`auth`](crate::core::auth)'s business; accounts that LDAP or OIDC
//! sign-ins create are listed and managed here like the rest.

use chrono::Utc;
use rand::{Rng, distributions::Alphanumeric, rngs::OsRng};

use super::{Group, NewUser, PasswordHasherPool, UserRepository, validate_password};
use crate::core::{
    Error, Result,
    access::{may_system, require_system},
    db::{Db, Page, Window},
    events::{AuditEvent, Operation, ResourceType},
    identity::{Actor, AuthSource, Principal, User, UserId, Username},
    rbac::SystemAction,
    settings::SettingsService,
};

/// The account created on first start.
pub const ADMIN_USERNAME: &str = "admin";

/// What the first start did about the administrator account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// An `admin` account already existed; nothing changed.
    AlreadyPresent,
    /// Created with the configured password.
    Created,
    /// Created with this generated password, to be shown once.
    CreatedWithGeneratedPassword(String),
}

/// A database account to create.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub email: Option<&'a str>,
    pub full_name: &'a str,
    pub is_admin: bool,
}

#[derive(Clone, Debug)]
pub struct UserService {
    users: UserRepository,
    /// Shared with sign-in, so hashing for both stays within one bound.
    hasher: PasswordHasherPool,
    settings: SettingsService,
}

impl UserService {
    pub fn new(db: Db, hasher: PasswordHasherPool, settings: SettingsService) -> Self {
        Self { users: UserRepository::new(db), hasher, settings }
    }

    /// The account with this username, if there is one: what naming a
    /// project member or a token's subject needs.
    pub async fn find(&self, username: &str) -> Result<Option<User>> {
        match Username::parse(username) {
            Ok(name) => Ok(self.users.find_credentials(&name).await?.map(|c| c.user)),
            Err(_) => Ok(None),
        }
    }

    pub async fn find_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.users.find(id).await
    }

    /// An administrator creates a database account.
    pub async fn create_user(&self, actor: &Actor, account: NewAccount<'_>) -> Result<User> {
        require_system(actor, SystemAction::ManageUsers)?;
        self.insert_account(account, actor.principal.name(), actor.client_addr.as_deref(), None).await
    }

    /// Someone creates their own account, when self-registration is on and
    /// users sign in with database accounts. Never an administrator.
    pub async fn register(&self, account: NewAccount<'_>, client_addr: Option<&str>) -> Result<User> {
        if !self.settings.self_registration().await? {
            return Err(Error::Forbidden("self-registration is off".into()));
        }
        let registering = Some(account.username);
        let account = NewAccount { is_admin: false, ..account };
        self.insert_account(account, registering, client_addr, Some("self-registration")).await
    }

    /// Changes a database account's password: its owner (who must give the
    /// current one) or an administrator (who need not). The old password,
    /// and any remembered Basic credentials for it, stop working at once.
    pub async fn change_password(
        &self,
        actor: &Actor,
        username: &str,
        current: Option<String>,
        new_password: &str,
    ) -> Result<()> {
        validate_password("new_password", new_password)?;
        let own = actor.principal.name() == Some(username);
        if !own && !may_system(actor, SystemAction::ManageUsers) {
            return Err(Error::Forbidden("changing another user's password".into()));
        }
        let name = Username::parse(username).map_err(|message| Error::invalid("username", message))?;
        let credentials =
            self.users.find_credentials(&name).await?.ok_or_else(|| Error::NotFound(format!("user {name}")))?;
        if credentials.auth_source != AuthSource::Database {
            return Err(Error::invalid("username", format!("{name} signs in through {}", credentials.auth_source)));
        }
        let checked = own && !may_system(actor, SystemAction::ManageUsers);
        if checked {
            let current = current.ok_or_else(|| Error::invalid("current_password", "is required"))?;
            if !self.hasher.verify(current, credentials.password_hash.clone()).await? {
                return Err(Error::invalid("current_password", "is not your current password"));
            }
        }
        let hash = self.hasher.hash(new_password.to_owned()).await?;
        let detail = if own { "password changed" } else { "password reset by an administrator" };
        let event = user_event(actor, Operation::Update, &credentials.user.username, Some(detail));
        // The current password was checked against this hash: a reset that
        // landed meanwhile is not undone by someone who knew the old one.
        let replacing = if checked { credentials.password_hash.as_deref() } else { None };
        // A reset is how an administrator shuts out whoever learnt the old
        // password: the account's portal sessions end with it.
        let changed =
            self.users.set_password_hash(credentials.user.id, &hash, replacing, Utc::now(), !own, &event).await?;
        if !changed {
            return Err(Error::Conflict(format!("the password of {name} changed meanwhile; sign in again")));
        }
        Ok(())
    }

    /// `berth admin reset-password`: an operator, who holds the server's
    /// configuration and so its database, sets a database account's password
    /// (generated unless given) without signing in; the account's portal
    /// sessions end. Audited as done by the operator. Returns the password.
    pub async fn reset_password(&self, username: &str, password: Option<String>) -> Result<String> {
        let password = match password {
            Some(password) => {
                validate_password("password", &password)?;
                password
            }
            None => generate_password(),
        };
        let name = Username::parse(username).map_err(|message| Error::invalid("username", message))?;
        let credentials =
            self.users.find_credentials(&name).await?.ok_or_else(|| Error::NotFound(format!("user {name}")))?;
        if credentials.auth_source != AuthSource::Database {
            let source = credentials.auth_source;
            return Err(Error::invalid("username", format!("{name} signs in through {source}; reset it there")));
        }
        let hash = self.hasher.hash(password.clone()).await?;
        let detail = Some("password reset by an operator");
        let event = account_event(Operation::Update, &credentials.user.username, detail, Some(OPERATOR), None);
        if !self.users.set_password_hash(credentials.user.id, &hash, None, Utc::now(), true, &event).await? {
            return Err(Error::NotFound(format!("user {name}")));
        }
        Ok(password)
    }

    /// A page of accounts (system administrators only).
    pub async fn list_users(&self, actor: &Actor, contains: Option<&str>, window: Window) -> Result<Page<User>> {
        require_system(actor, SystemAction::ManageUsers)?;
        self.users.list(contains, window).await
    }

    /// How many accounts sign in each way: what an administrator weighs
    /// before changing the login mode (system administrators only).
    pub async fn accounts_by_source(&self, actor: &Actor) -> Result<Vec<(String, i64)>> {
        require_system(actor, SystemAction::ManageUsers)?;
        self.users.count_by_source().await
    }

    /// Accounts whose username contains `contains`: what adding a project
    /// member needs, so any signed-in person may ask (callers show only id
    /// and username).
    pub async fn search_users(&self, actor: &Actor, contains: &str, window: Window) -> Result<Page<User>> {
        if !matches!(actor.principal, Principal::User(_)) {
            return Err(Error::Forbidden("searching users needs a signed-in user".into()));
        }
        self.users.list(Some(contains), window).await
    }

    /// The account, for its owner or a system administrator.
    pub async fn user_for(&self, actor: &Actor, id: UserId) -> Result<User> {
        let user = self.users.find(id).await?.ok_or_else(|| Error::NotFound(format!("user {}", id.0)))?;
        let own =
            actor.principal.name() == Some(user.username.as_str()) && matches!(actor.principal, Principal::User(_));
        if !own && !may_system(actor, SystemAction::ManageUsers) {
            return Err(Error::Forbidden("reading another user's account".into()));
        }
        Ok(user)
    }

    /// Changes email and full name: the owner or a system administrator.
    pub async fn update_profile(
        &self,
        actor: &Actor,
        id: UserId,
        email: Option<&str>,
        full_name: &str,
    ) -> Result<User> {
        let user = self.user_for(actor, id).await?;
        validate_profile(email, full_name)?;
        let event = user_event(actor, Operation::Update, &user.username, Some("profile changed"));
        self.users.update_profile(id, email, full_name, Utc::now(), &event).await?;
        self.user_for(actor, id).await
    }

    /// Grants or withdraws system administration (system administrators
    /// only; nobody changes their own, and `admin` stays one).
    pub async fn set_admin(&self, actor: &Actor, id: UserId, is_admin: bool) -> Result<()> {
        require_system(actor, SystemAction::ManageUsers)?;
        let user = self.users.find(id).await?.ok_or_else(|| Error::NotFound(format!("user {}", id.0)))?;
        if actor.principal.name() == Some(user.username.as_str()) || user.username.as_str() == ADMIN_USERNAME {
            return Err(Error::Conflict(format!("{} keeps its administrator flag", user.username)));
        }
        let detail = if is_admin { "made system administrator" } else { "no longer system administrator" };
        let event = user_event(actor, Operation::Update, &user.username, Some(detail));
        self.users.set_admin(id, is_admin, Utc::now(), &event).await
    }

    /// Deletes an account (system administrators only; never `admin` or oneself).
    pub async fn delete_user(&self, actor: &Actor, id: UserId) -> Result<()> {
        require_system(actor, SystemAction::ManageUsers)?;
        let user = self.users.find(id).await?.ok_or_else(|| Error::NotFound(format!("user {}", id.0)))?;
        if actor.principal.name() == Some(user.username.as_str()) || user.username.as_str() == ADMIN_USERNAME {
            return Err(Error::Conflict(format!("{} cannot be deleted", user.username)));
        }
        let event = user_event(actor, Operation::Delete, &user.username, None);
        self.users.delete(id, &event).await?;
        Ok(())
    }

    /// A page of LDAP and OIDC groups (system administrators only).
    pub async fn list_groups(&self, actor: &Actor, contains: Option<&str>, window: Window) -> Result<Page<Group>> {
        require_system(actor, SystemAction::ManageGroups)?;
        self.users.list_groups(contains, window).await
    }

    pub async fn group(&self, actor: &Actor, id: i64) -> Result<Group> {
        require_system(actor, SystemAction::ManageGroups)?;
        self.users.find_group(id).await?.ok_or_else(|| Error::NotFound(format!("user group {id}")))
    }

    /// Deletes a group and its project memberships (system administrators
    /// only). A directory or provider that still names it brings it back
    /// at its members' next sign-in, without the memberships.
    pub async fn delete_group(&self, actor: &Actor, id: i64) -> Result<()> {
        let group = self.group(actor, id).await?;
        let mut event = AuditEvent::new(Operation::Delete, ResourceType::User, format!("group:{}", group.name), actor);
        event.detail = Some(group.kind.to_string());
        self.users.delete_group(id, &event).await?;
        Ok(())
    }

    /// Creates the `admin` account on first start, with `password` or a
    /// generated one. Safe when several nodes start at once: only one creates it.
    pub async fn bootstrap_admin(&self, password: Option<String>) -> Result<AdminBootstrap> {
        let (password, generated) = match password {
            Some(password) => {
                validate_password("admin_password", &password)?;
                (password, false)
            }
            None => (generate_password(), true),
        };
        let username = Username::parse(ADMIN_USERNAME).expect("the admin username is valid");
        let event = account_event(Operation::Create, &username, Some("first administrator, at start-up"), None, None);
        // Look first: on a restart the account exists and hashing would be wasted.
        if self.users.find_credentials(&username).await?.is_some() {
            return Ok(AdminBootstrap::AlreadyPresent);
        }
        let hash = self.hasher.hash(password.clone()).await?;
        let created = self
            .users
            .create_if_absent(
                NewUser {
                    username: &username,
                    email: None,
                    full_name: "System Administrator",
                    password_hash: Some(&hash),
                    is_admin: true,
                },
                Utc::now(),
                &event,
            )
            .await?;
        Ok(match (created, generated) {
            (None, _) => AdminBootstrap::AlreadyPresent,
            (Some(_), false) => AdminBootstrap::Created,
            (Some(_), true) => AdminBootstrap::CreatedWithGeneratedPassword(password),
        })
    }

    /// Creates a database account; `actor` and `client_addr` say who, for the audit log.
    async fn insert_account(
        &self,
        account: NewAccount<'_>,
        actor: Option<&str>,
        client_addr: Option<&str>,
        detail: Option<&str>,
    ) -> Result<User> {
        let username = Username::parse(account.username).map_err(|message| Error::invalid("username", message))?;
        validate_profile(account.email, account.full_name)?;
        validate_password("password", account.password)?;
        let hash = self.hasher.hash(account.password.to_owned()).await?;
        let new = NewUser {
            username: &username,
            email: account.email,
            full_name: account.full_name,
            password_hash: Some(&hash),
            is_admin: account.is_admin,
        };
        let event = account_event(Operation::Create, &username, detail, actor, client_addr);
        let created = self.users.create_if_absent(new, Utc::now(), &event).await?;
        let id = created.ok_or_else(|| Error::Conflict(format!("the username {username} is taken")))?;
        self.users.find(id).await?.ok_or_else(|| Error::NotFound(format!("user {username}")))
    }
}

/// An account's email (when given) is an address and its full name fits.
fn validate_profile(email: Option<&str>, full_name: &str) -> Result<()> {
    if let Some(email) = email
        && !(email.contains('@') && email.len() <= 255 && !email.chars().any(char::is_whitespace))
    {
        return Err(Error::invalid("email", "must be an email address"));
    }
    if full_name.chars().count() > 255 {
        return Err(Error::invalid("realname", "must be at most 255 characters"));
    }
    Ok(())
}

/// The audit row of `actor`'s change to an account, written with the change.
pub fn user_event(actor: &Actor, operation: Operation, username: &Username, detail: Option<&str>) -> AuditEvent {
    account_event(operation, username, detail, actor.principal.name(), actor.client_addr.as_deref())
}

/// [`user_event`] for a change whose actor is only a name: someone
/// registering, the operator at the command line, start-up.
fn account_event(
    operation: Operation,
    username: &Username,
    detail: Option<&str>,
    actor: Option<&str>,
    client_addr: Option<&str>,
) -> AuditEvent {
    let mut event = AuditEvent::named(operation, ResourceType::User, username.to_string(), actor, client_addr);
    event.detail = detail.map(str::to_owned);
    event
}

/// Who the audit log names for changes made with `berth admin` on the server itself.
const OPERATOR: &str = "operator (berth admin)";

fn generate_password() -> String {
    OsRng.sample_iter(&Alphanumeric).take(24).map(char::from).collect()
}
