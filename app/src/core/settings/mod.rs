//! Settings an administrator changes at run time: how users sign in
//! (database accounts, LDAP or OIDC) and each mode's configuration. Stored
//! as one JSON document per name, so every node reads the same settings.
//! Only system administrators change them; every change is audited.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

mod ldap;
mod oidc;
mod secret_destination;

pub use ldap::{LdapScope, LdapSettings};
pub use oidc::OidcSettings;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    core::{
        Error, Result,
        access::{SystemGrant, require_system},
        db::Db,
        events::{AuditEvent, Operation, ResourceType, audited_transaction},
        identity::Actor,
        rbac::SystemAction,
    },
    on_db,
};

const LOGIN: &str = "login";
/// The LDAP and OIDC settings last saved, kept while another mode is in force.
const SAVED_LDAP: &str = "login.ldap";
const SAVED_OIDC: &str = "login.oidc";
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
    Oidc(Box<OidcSettings>),
}

impl LoginSettings {
    /// Harbor's name for the mode (`auth_mode`).
    pub fn mode_name(&self) -> &'static str {
        match self {
            Self::Database => "db_auth",
            Self::Ldap(_) => "ldap_auth",
            Self::Oidc(_) => "oidc_auth",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SettingsService {
    db: Db,
    /// The login settings as last read, and when: every sign-in (including
    /// registry clients sending Basic credentials with each request) needs
    /// them, so they are re-read at most every [`LOGIN_CACHE_TTL`].
    login_cache: Arc<Mutex<Option<(Instant, LoginSettings)>>>,
}

/// How long another node's change of the login settings may take to apply here.
const LOGIN_CACHE_TTL: Duration = Duration::from_secs(5);

impl SettingsService {
    pub fn new(db: Db) -> Self {
        Self { db, login_cache: Arc::default() }
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
        require_system(actor, SystemAction::ManageSettings)?;
        match settings {
            LoginSettings::Database => {}
            LoginSettings::Ldap(ldap) => ldap.validate()?,
            LoginSettings::Oidc(oidc) => oidc.validate()?,
        }
        let mode = settings.mode_name();
        // The mode and the provider's settings change together, with their audit row.
        let mut values = vec![(LOGIN, to_json(settings)?)];
        match settings {
            LoginSettings::Database => {}
            LoginSettings::Ldap(ldap) => values.push((SAVED_LDAP, to_json(ldap)?)),
            LoginSettings::Oidc(oidc) => values.push((SAVED_OIDC, to_json(oidc)?)),
        }
        self.write(actor, &values, LOGIN, format!("login mode: {mode}")).await?;
        *self.login_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), settings.clone()));
        Ok(())
    }

    /// The LDAP settings in force, else the ones last saved, else defaults
    /// (with the bind password: for those who manage settings).
    pub async fn saved_ldap(&self, _grant: &SystemGrant) -> Result<LdapSettings> {
        if let LoginSettings::Ldap(ldap) = self.login().await? {
            return Ok(*ldap);
        }
        Ok(self.read(SAVED_LDAP).await?.unwrap_or_default())
    }

    /// The OIDC settings in force, else the ones last saved, else defaults
    /// (with the client secret: for those who manage settings).
    pub async fn saved_oidc(&self, _grant: &SystemGrant) -> Result<OidcSettings> {
        if let LoginSettings::Oidc(oidc) = self.login().await? {
            return Ok(*oidc);
        }
        Ok(self.read(SAVED_OIDC).await?.unwrap_or_default())
    }

    /// Keeps LDAP settings for later without making LDAP the login mode
    /// (when it is the mode, the change applies at once).
    pub async fn save_ldap(&self, actor: &Actor, ldap: LdapSettings) -> Result<()> {
        require_system(actor, SystemAction::ManageSettings)?;
        if matches!(self.login().await?, LoginSettings::Ldap(_)) {
            return self.set_login(actor, &LoginSettings::Ldap(Box::new(ldap))).await;
        }
        self.write_audited(actor, SAVED_LDAP, &ldap, "LDAP settings saved".into()).await
    }

    /// Keeps OIDC settings for later without making OIDC the login mode
    /// (when it is the mode, the change applies at once).
    pub async fn save_oidc(&self, actor: &Actor, oidc: OidcSettings) -> Result<()> {
        require_system(actor, SystemAction::ManageSettings)?;
        if matches!(self.login().await?, LoginSettings::Oidc(_)) {
            return self.set_login(actor, &LoginSettings::Oidc(Box::new(oidc))).await;
        }
        self.write_audited(actor, SAVED_OIDC, &oidc, "OIDC settings saved".into()).await
    }

    /// Whether people may create their own database accounts (off unless
    /// an administrator turned it on; only in database mode).
    pub async fn self_registration(&self) -> Result<bool> {
        Ok(self.self_registration_setting().await? && self.login().await? == LoginSettings::Database)
    }

    /// The self-registration switch as an administrator left it, whatever the mode.
    pub async fn self_registration_setting(&self) -> Result<bool> {
        Ok(self.read(SELF_REGISTRATION).await?.unwrap_or(false))
    }

    pub async fn set_self_registration(&self, actor: &Actor, allowed: bool) -> Result<()> {
        require_system(actor, SystemAction::ManageSettings)?;
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
        require_system(actor, SystemAction::ManageSettings)?;
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

    /// Stores a setting and its audit row, with `detail`, in one transaction.
    async fn write_audited<T: Serialize>(&self, actor: &Actor, name: &str, value: &T, detail: String) -> Result<()> {
        self.write(actor, &[(name, to_json(value)?)], name, detail).await
    }

    /// Stores `values` (name, JSON) and one audit row about `resource` with
    /// `detail`, in one transaction.
    async fn write(&self, actor: &Actor, values: &[(&str, String)], resource: &str, detail: String) -> Result<()> {
        const SQL: &str = "INSERT INTO system_settings (name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by";
        let now: DateTime<Utc> = Utc::now();
        let mut event = AuditEvent::new(Operation::Update, ResourceType::Settings, resource, actor);
        event.detail = Some(detail);
        audited_transaction!(&self.db, &event, |tx| {
            for (name, json) in values {
                sqlx::query(SQL).bind(name).bind(json).bind(now).bind(actor.principal.name()).execute(&mut *tx).await?;
            }
        })?;
        Ok(())
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid("settings", e.to_string()))
}
