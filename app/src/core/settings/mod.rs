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
        db::{Db, begin_writing},
        events::{AuditEvent, Operation, ResourceType, write_audit_row},
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
const SESSION_LIFETIME: &str = "session_lifetime_minutes";
const ROBOT_LIFETIME: &str = "robot_token_duration_days";

/// How long a portal session may be set to last, in minutes (5 minutes to 30 days).
pub const SESSION_MINUTES: std::ops::RangeInclusive<u32> = 5..=43_200;
/// How long a new robot account may be set to last by default, in days.
pub const ROBOT_DAYS: std::ops::RangeInclusive<u32> = 1..=36_500;
/// A new robot account's lifetime until an administrator changes it (Harbor's default).
pub const DEFAULT_ROBOT_DAYS: u32 = 30;

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

/// Several settings changed together: they apply in one transaction, with
/// one audit row for each setting that changed, or not at all.
#[derive(Clone, Debug, Default)]
pub struct SettingsChange {
    /// A new login mode (with its provider's settings, saved with it).
    pub login: Option<LoginSettings>,
    /// LDAP settings to keep; they apply at once when LDAP is the mode in force.
    pub ldap: Option<LdapSettings>,
    /// OIDC settings to keep; they apply at once when OIDC is the mode in force.
    pub oidc: Option<OidcSettings>,
    pub self_registration: Option<bool>,
    pub project_creation_admin_only: Option<bool>,
    /// Portal sessions opened from now on last this long (minutes).
    pub session_lifetime_minutes: Option<u32>,
    /// Robot accounts created without a lifetime of their own get this one (days).
    pub robot_token_duration_days: Option<u32>,
}

/// How the login page and `/systeminfo` describe signing in: no secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInMode {
    /// Harbor's name for the mode (`auth_mode`).
    pub mode_name: &'static str,
    /// The OIDC provider's name, when users sign in through OIDC.
    pub oidc_provider: Option<String>,
}

impl SettingsService {
    pub fn new(db: Db) -> Self {
        Self { db, login_cache: Arc::default() }
    }

    /// The login settings in force (database accounts until changed), with
    /// the LDAP bind password or OIDC client secret: for signing in.
    pub(crate) async fn in_force(&self) -> Result<LoginSettings> {
        if let Some((read_at, settings)) = &*self.login_cache.lock().unwrap_or_else(|e| e.into_inner())
            && read_at.elapsed() < LOGIN_CACHE_TTL
        {
            return Ok(settings.clone());
        }
        let settings: LoginSettings = self.read(LOGIN).await?.unwrap_or_default();
        self.remember(&settings);
        Ok(settings)
    }

    /// The login settings in force, secrets included: for those who manage settings.
    pub async fn login(&self, _grant: &SystemGrant) -> Result<LoginSettings> {
        self.in_force().await
    }

    /// How users sign in, as anyone may know it.
    pub async fn sign_in_mode(&self) -> Result<SignInMode> {
        let login = self.in_force().await?;
        let oidc_provider = match &login {
            LoginSettings::Oidc(oidc) => Some(oidc.provider_name.clone()),
            _ => None,
        };
        Ok(SignInMode { mode_name: login.mode_name(), oidc_provider })
    }

    /// Changes the login settings (system administrators only).
    pub async fn set_login(&self, actor: &Actor, settings: &LoginSettings) -> Result<()> {
        self.update(actor, SettingsChange { login: Some(settings.clone()), ..SettingsChange::default() }).await
    }

    /// The LDAP settings in force, else the ones last saved, else defaults
    /// (with the bind password: for those who manage settings).
    pub async fn saved_ldap(&self, _grant: &SystemGrant) -> Result<LdapSettings> {
        if let LoginSettings::Ldap(ldap) = self.in_force().await? {
            return Ok(*ldap);
        }
        Ok(self.read(SAVED_LDAP).await?.unwrap_or_default())
    }

    /// The OIDC settings in force, else the ones last saved, else defaults
    /// (with the client secret: for those who manage settings).
    pub async fn saved_oidc(&self, _grant: &SystemGrant) -> Result<OidcSettings> {
        if let LoginSettings::Oidc(oidc) = self.in_force().await? {
            return Ok(*oidc);
        }
        Ok(self.read(SAVED_OIDC).await?.unwrap_or_default())
    }

    /// Keeps LDAP settings for later without making LDAP the login mode
    /// (when it is the mode, the change applies at once).
    pub async fn save_ldap(&self, actor: &Actor, ldap: LdapSettings) -> Result<()> {
        self.update(actor, SettingsChange { ldap: Some(ldap), ..SettingsChange::default() }).await
    }

    /// Keeps OIDC settings for later without making OIDC the login mode
    /// (when it is the mode, the change applies at once).
    pub async fn save_oidc(&self, actor: &Actor, oidc: OidcSettings) -> Result<()> {
        self.update(actor, SettingsChange { oidc: Some(oidc), ..SettingsChange::default() }).await
    }

    /// Whether people may create their own database accounts (off unless
    /// an administrator turned it on; only in database mode).
    pub async fn self_registration(&self) -> Result<bool> {
        Ok(self.read(SELF_REGISTRATION).await?.unwrap_or(false) && self.in_force().await? == LoginSettings::Database)
    }

    /// The self-registration switch as an administrator left it, whatever the mode.
    pub async fn self_registration_setting(&self, _grant: &SystemGrant) -> Result<bool> {
        Ok(self.read(SELF_REGISTRATION).await?.unwrap_or(false))
    }

    pub async fn set_self_registration(&self, actor: &Actor, allowed: bool) -> Result<()> {
        self.update(actor, SettingsChange { self_registration: Some(allowed), ..SettingsChange::default() }).await
    }

    /// Whether only system administrators may create projects (Harbor's
    /// `project_creation_restriction = adminonly`); everyone signed in may
    /// until an administrator says otherwise.
    pub async fn project_creation_admin_only(&self) -> Result<bool> {
        Ok(self.read(PROJECT_CREATION).await?.unwrap_or(false))
    }

    pub async fn set_project_creation_admin_only(&self, actor: &Actor, admin_only: bool) -> Result<()> {
        let change = SettingsChange { project_creation_admin_only: Some(admin_only), ..SettingsChange::default() };
        self.update(actor, change).await
    }

    /// How long portal sessions opened now last, when an administrator set
    /// it (else the configuration's `session_timeout` applies).
    pub async fn session_lifetime_minutes(&self) -> Result<Option<u32>> {
        self.read(SESSION_LIFETIME).await
    }

    /// The lifetime in days of a robot account created without one.
    pub async fn robot_token_duration_days(&self) -> Result<u32> {
        Ok(self.read(ROBOT_LIFETIME).await?.unwrap_or(DEFAULT_ROBOT_DAYS))
    }

    /// Applies `change` (system administrators only): every setting it
    /// names and their audit rows in one transaction. Whether saved LDAP or
    /// OIDC settings also apply at once is decided from the mode stored in
    /// that transaction (the login row held), never from this node's cache.
    pub async fn update(&self, actor: &Actor, change: SettingsChange) -> Result<()> {
        require_system(actor, SystemAction::ManageSettings)?;
        if let Some(login) = &change.login {
            validate(login)?;
        }
        const HOLD: &str = "UPDATE system_settings SET name = name WHERE name = $1";
        const READ: &str = "SELECT value FROM system_settings WHERE name = $1";
        let decided = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            sqlx::query(HOLD).bind(LOGIN).execute(&mut *tx).await?;
            let stored: Option<String> = sqlx::query_scalar(READ).bind(LOGIN).fetch_optional(&mut *tx).await?;
            let writes = match stored.as_deref().map(parse_setting::<LoginSettings>).transpose() {
                Ok(current) => writes_for(&change, &current.unwrap_or_default()),
                Err(error) => Err(error),
            };
            let writes = match writes {
                Ok(writes) => writes,
                Err(error) => return Ok(Err(error)),
            };
            let now: DateTime<Utc> = Utc::now();
            for write in &writes.values {
                sqlx::query(UPSERT)
                    .bind(write.name)
                    .bind(&write.json)
                    .bind(now)
                    .bind(actor.principal.name())
                    .execute(&mut *tx)
                    .await?;
            }
            for (resource, detail) in &writes.audited {
                let mut event = AuditEvent::new(Operation::Update, ResourceType::Settings, *resource, actor);
                event.detail = Some(detail.clone());
                write_audit_row!(tx, &event)?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(writes.login))
        }.await)?;
        if let Some(login) = decided? {
            self.remember(&login);
        }
        Ok(())
    }

    fn remember(&self, login: &LoginSettings) {
        *self.login_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), login.clone()));
    }

    async fn read<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let value: Option<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT value FROM system_settings WHERE name = $1").bind(name).fetch_optional(pool).await
        })?;
        value.as_deref().map(parse_setting).transpose()
    }
}

const UPSERT: &str = "INSERT INTO system_settings (name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
     updated_by = excluded.updated_by";

/// What a [`SettingsChange`] writes, given the login settings stored now.
struct Writes {
    values: Vec<SettingValue>,
    /// One audit row per setting: (resource, detail).
    audited: Vec<(&'static str, String)>,
    /// The login settings in force afterwards, when they changed.
    login: Option<LoginSettings>,
}

struct SettingValue {
    name: &'static str,
    json: String,
}

fn writes_for(change: &SettingsChange, current: &LoginSettings) -> Result<Writes> {
    let mut writes = Writes { values: Vec::new(), audited: Vec::new(), login: None };
    let mut put = |name, json| writes.values.push(SettingValue { name, json });
    // Saved provider settings apply at once when their provider is the mode in force.
    let login = match (&change.login, current) {
        (Some(login), _) => Some(login.clone()),
        (None, LoginSettings::Ldap(_)) => change.ldap.clone().map(|ldap| LoginSettings::Ldap(Box::new(ldap))),
        (None, LoginSettings::Oidc(_)) => change.oidc.clone().map(|oidc| LoginSettings::Oidc(Box::new(oidc))),
        (None, LoginSettings::Database) => None,
    };
    let mut audited = Vec::new();
    if let Some(login) = &login {
        validate(login)?;
        put(LOGIN, to_json(login)?);
        match login {
            LoginSettings::Database => {}
            LoginSettings::Ldap(ldap) => put(SAVED_LDAP, to_json(ldap)?),
            LoginSettings::Oidc(oidc) => put(SAVED_OIDC, to_json(oidc)?),
        }
        audited.push((LOGIN, format!("login mode: {}", login.mode_name())));
    }
    if let Some(ldap) = &change.ldap {
        ldap.check_bounds()?;
    }
    if let Some(oidc) = &change.oidc {
        oidc.check_bounds()?;
    }
    if let Some(ldap) = &change.ldap
        && !matches!(login, Some(LoginSettings::Ldap(_)))
    {
        put(SAVED_LDAP, to_json(ldap)?);
        audited.push((SAVED_LDAP, "LDAP settings saved".to_owned()));
    }
    if let Some(oidc) = &change.oidc
        && !matches!(login, Some(LoginSettings::Oidc(_)))
    {
        put(SAVED_OIDC, to_json(oidc)?);
        audited.push((SAVED_OIDC, "OIDC settings saved".to_owned()));
    }
    if let Some(allowed) = change.self_registration {
        put(SELF_REGISTRATION, to_json(&allowed)?);
        audited.push((SELF_REGISTRATION, if allowed { "on" } else { "off" }.to_owned()));
    }
    if let Some(admin_only) = change.project_creation_admin_only {
        put(PROJECT_CREATION, to_json(&admin_only)?);
        audited.push((PROJECT_CREATION, if admin_only { "adminonly" } else { "everyone" }.to_owned()));
    }
    if let Some(minutes) = change.session_lifetime_minutes {
        if !SESSION_MINUTES.contains(&minutes) {
            let (min, max) = (SESSION_MINUTES.start(), SESSION_MINUTES.end());
            return Err(Error::invalid("session_lifetime", format!("must be {min} to {max} minutes")));
        }
        put(SESSION_LIFETIME, to_json(&minutes)?);
        audited.push((SESSION_LIFETIME, format!("{minutes} minutes")));
    }
    if let Some(days) = change.robot_token_duration_days {
        if !ROBOT_DAYS.contains(&days) {
            let (min, max) = (ROBOT_DAYS.start(), ROBOT_DAYS.end());
            return Err(Error::invalid("robot_token_duration", format!("must be {min} to {max} days")));
        }
        put(ROBOT_LIFETIME, to_json(&days)?);
        audited.push((ROBOT_LIFETIME, format!("{days} days")));
    }
    writes.audited = audited;
    writes.login = login;
    Ok(writes)
}

/// Longest text any login setting takes (a URL, a DN, a filter, a secret).
pub const MAX_SETTING: usize = 2048;

/// Refuses a setting longer than [`MAX_SETTING`], naming it.
fn check_lengths<'a>(fields: impl IntoIterator<Item = (&'static str, &'a str)>) -> Result<()> {
    for (field, value) in fields {
        if value.chars().count() > MAX_SETTING {
            return Err(Error::invalid(field, format!("must be at most {MAX_SETTING} characters")));
        }
    }
    Ok(())
}

fn validate(login: &LoginSettings) -> Result<()> {
    match login {
        LoginSettings::Database => Ok(()),
        LoginSettings::Ldap(ldap) => ldap.validate(),
        LoginSettings::Oidc(oidc) => oidc.validate(),
    }
}

fn parse_setting<T: DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::corrupt(format!("a stored setting is unreadable: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid("settings", e.to_string()))
}
