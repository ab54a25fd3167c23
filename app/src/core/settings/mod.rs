//! Settings an administrator changes at run time: how users sign in
//! (database accounts, LDAP or OIDC) and each mode's configuration. Stored
//! as one JSON document per name, so every node reads the same settings.
//! Only system administrators change them; every change is audited.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    core::{
        Error, Result,
        access::Actor,
        db::Db,
        events::{AuditEvent, EventRecorder, Operation, ResourceType},
    },
    on_db,
};

const LOGIN: &str = "login";
const SELF_REGISTRATION: &str = "self_registration";
const PROJECT_CREATION: &str = "project_creation_restriction";

/// How users sign in. The first administrator (`admin`) always signs in
/// with its database password, so a broken directory never locks everyone out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LoginSettings {
    #[default]
    Database,
    Ldap(Box<LdapSettings>),
}

/// Where the LDAP directory is and how users and groups are found in it
/// (Harbor's settings of the same names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapSettings {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub start_tls: bool,
    /// Check the server's certificate (leave on outside tests).
    pub verify_certificate: bool,
    /// Who searches for users (empty: anonymous search).
    pub search_dn: String,
    pub search_password: String,
    /// Where users are searched, and how deep.
    pub base_dn: String,
    pub scope: LdapScope,
    /// An extra filter users must match, e.g. `(objectClass=person)`.
    pub user_filter: String,
    /// The attribute holding the username, e.g. `uid` or `sAMAccountName`.
    pub uid_attribute: String,
    /// Where groups are searched (empty: groups are not looked up).
    pub group_base_dn: String,
    /// Which entries are groups, e.g. `(objectClass=groupOfNames)`.
    pub group_filter: String,
    /// The attribute naming a group, e.g. `cn`.
    pub group_name_attribute: String,
    /// The group attribute listing member DNs, e.g. `member`.
    pub group_member_attribute: String,
    /// Members of this group are system administrators.
    pub admin_group_dn: String,
    pub timeout_seconds: u64,
}

impl Default for LdapSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            start_tls: false,
            verify_certificate: true,
            search_dn: String::new(),
            search_password: String::new(),
            base_dn: String::new(),
            scope: LdapScope::Subtree,
            user_filter: String::new(),
            uid_attribute: "uid".into(),
            group_base_dn: String::new(),
            group_filter: "(objectClass=groupOfNames)".into(),
            group_name_attribute: "cn".into(),
            group_member_attribute: "member".into(),
            admin_group_dn: String::new(),
            timeout_seconds: 5,
        }
    }
}

impl LdapSettings {
    /// Refuses settings that cannot work, naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.url.starts_with("ldap://") || self.url.starts_with("ldaps://")) {
            return Err(Error::invalid("url", "must start with ldap:// or ldaps://"));
        }
        if self.start_tls && self.url.starts_with("ldaps://") {
            return Err(Error::invalid("start_tls", "StartTLS upgrades ldap:// connections; ldaps:// is TLS already"));
        }
        if self.base_dn.trim().is_empty() {
            return Err(Error::invalid("base_dn", "must name where users are searched"));
        }
        if self.uid_attribute.trim().is_empty() {
            return Err(Error::invalid("uid_attribute", "must name the attribute holding usernames"));
        }
        for (field, filter) in [("user_filter", &self.user_filter), ("group_filter", &self.group_filter)] {
            let filter = filter.trim();
            let parenthesized = filter.starts_with('(') && filter.ends_with(')');
            if !filter.is_empty() && !parenthesized {
                return Err(Error::invalid(field, "must be an LDAP filter in parentheses"));
            }
        }
        if self.timeout_seconds == 0 {
            return Err(Error::invalid("timeout_seconds", "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LdapScope {
    Base,
    OneLevel,
    #[default]
    Subtree,
}

#[derive(Clone, Debug)]
pub struct SettingsService {
    db: Db,
    events: EventRecorder,
    /// The login settings as last read, and when: every sign-in (including
    /// registry clients sending Basic credentials with each request) needs
    /// them, so they are re-read at most every [`LOGIN_CACHE_TTL`].
    login_cache: Arc<Mutex<Option<(Instant, LoginSettings)>>>,
}

/// How long another node's change of the login settings may take to apply here.
const LOGIN_CACHE_TTL: Duration = Duration::from_secs(5);

impl SettingsService {
    pub fn new(db: Db, events: EventRecorder) -> Self {
        Self { db, events, login_cache: Arc::default() }
    }

    /// The login settings in force (database accounts until changed).
    pub async fn login(&self) -> Result<LoginSettings> {
        if let Some((read_at, settings)) = &*self.login_cache.lock().unwrap_or_else(|e| e.into_inner())
            && read_at.elapsed() < LOGIN_CACHE_TTL
        {
            return Ok(settings.clone());
        }
        let settings: LoginSettings = self.read(LOGIN).await?.unwrap_or_default();
        *self.login_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), settings.clone()));
        Ok(settings)
    }

    /// Changes the login settings (system administrators only).
    pub async fn set_login(&self, actor: &Actor, settings: &LoginSettings) -> Result<()> {
        require_admin(actor, "change login settings")?;
        if let LoginSettings::Ldap(ldap) = settings {
            ldap.validate()?;
        }
        let mode = match settings {
            LoginSettings::Database => "database",
            LoginSettings::Ldap(_) => "ldap",
        };
        self.write_audited(actor, LOGIN, settings, format!("login mode: {mode}")).await?;
        *self.login_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), settings.clone()));
        Ok(())
    }

    /// Whether people may create their own database accounts (off unless
    /// an administrator turned it on; never in LDAP mode).
    pub async fn self_registration(&self) -> Result<bool> {
        let allowed: bool = self.read(SELF_REGISTRATION).await?.unwrap_or(false);
        Ok(allowed && self.login().await? == LoginSettings::Database)
    }

    pub async fn set_self_registration(&self, actor: &Actor, allowed: bool) -> Result<()> {
        require_admin(actor, "change self-registration")?;
        let detail = if allowed { "on" } else { "off" };
        self.write_audited(actor, SELF_REGISTRATION, &allowed, detail.to_owned()).await
    }

    /// Whether only system administrators may create projects (Harbor's
    /// `project_creation_restriction = adminonly`); everyone signed in may
    /// until an administrator says otherwise.
    pub async fn project_creation_admin_only(&self) -> Result<bool> {
        Ok(self.read(PROJECT_CREATION).await?.unwrap_or(false))
    }

    pub async fn set_project_creation_admin_only(&self, actor: &Actor, admin_only: bool) -> Result<()> {
        require_admin(actor, "restrict project creation")?;
        let detail = if admin_only { "adminonly" } else { "everyone" };
        self.write_audited(actor, PROJECT_CREATION, &admin_only, detail.to_owned()).await
    }

    async fn read<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let value: Option<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT value FROM system_settings WHERE name = $1").bind(name).fetch_optional(pool).await
        })?;
        value
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|e| Error::corrupt(format!("stored setting {name} is unreadable: {e}")))
            })
            .transpose()
    }

    /// Stores a setting and records the change, with `detail`, in the audit log.
    async fn write_audited<T: Serialize>(&self, actor: &Actor, name: &str, value: &T, detail: String) -> Result<()> {
        const SQL: &str = "INSERT INTO system_settings (name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by";
        let json = serde_json::to_string(value).map_err(|e| Error::invalid("settings", e.to_string()))?;
        let now: DateTime<Utc> = Utc::now();
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(name)
                .bind(&json)
                .bind(now)
                .bind(actor.principal.name())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        let mut event = AuditEvent::new(Operation::Update, ResourceType::Settings, name, &actor.caller());
        event.detail = Some(detail);
        self.events.record(event).await;
        Ok(())
    }
}

fn require_admin(actor: &Actor, what: &str) -> Result<()> {
    if actor.principal.is_system_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("only system administrators {what}")))
    }
}
