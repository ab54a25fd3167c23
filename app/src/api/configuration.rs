//! The Administration area's Configuration page: how users sign in
//! (database accounts, LDAP or OIDC, with every setting, "Test LDAP
//! connection" and "Check endpoint") and the system settings (who creates
//! projects, session and robot lifetimes). Secrets are write-only: the page
//! learns only whether one is set, and an empty field keeps it. System
//! administrators only; the core refuses anyone else.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// LDAP settings as the page shows them (no bind password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapView {
    pub url: String,
    pub start_tls: bool,
    pub verify_certificate: bool,
    pub search_dn: String,
    pub has_search_password: bool,
    pub base_dn: String,
    /// `base`, `one_level` or `subtree`.
    pub scope: String,
    pub user_filter: String,
    pub uid_attribute: String,
    pub group_base_dn: String,
    pub group_filter: String,
    pub group_name_attribute: String,
    pub group_member_attribute: String,
    pub admin_group_dn: String,
    pub timeout_seconds: u64,
}

/// OIDC settings as the page shows them (no client secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcView {
    pub provider_name: String,
    pub issuer_url: String,
    pub client_id: String,
    pub has_client_secret: bool,
    /// Comma-separated.
    pub scopes: String,
    pub username_claim: String,
    pub groups_claim: String,
    pub admin_group: String,
    pub verify_certificate: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationView {
    /// `database`, `ldap` or `oidc`.
    pub mode: String,
    pub ldap: LdapView,
    pub oidc: OidcView,
    /// How many accounts sign in each way (`database`, `ldap`, `oidc`).
    pub accounts: Vec<(String, i64)>,
    pub project_creation_admin_only: bool,
    pub session_lifetime_minutes: u64,
    pub robot_token_duration_days: u32,
}

/// The scopes of LDAP searches, as the form offers them.
pub const LDAP_SCOPES: [(&str, &str); 3] =
    [("base", "Base (the base DN only)"), ("one_level", "One level"), ("subtree", "Subtree")];

#[server(prefix = "/portal/fn", endpoint = "configuration")]
pub async fn configuration() -> Result<ConfigurationView, AppError> {
    use crate::core::{AppState, access::require_system, rbac::SystemAction, settings::LoginSettings};

    let actor = crate::api::session::require_actor().await?;
    let grant = require_system(&actor, SystemAction::ManageSettings)?;
    let state = expect_context::<AppState>();
    let settings = &state.settings;
    let mode = match settings.login(&grant).await? {
        LoginSettings::Database => "database",
        LoginSettings::Ldap(_) => "ldap",
        LoginSettings::Oidc(_) => "oidc",
    };
    let (ldap, oidc) = (settings.saved_ldap(&grant).await?, settings.saved_oidc(&grant).await?);
    Ok(ConfigurationView {
        mode: mode.to_owned(),
        ldap: LdapView {
            has_search_password: !ldap.search_password.is_empty(),
            scope: convert::scope_name(ldap.scope).to_owned(),
            url: ldap.url,
            start_tls: ldap.start_tls,
            verify_certificate: ldap.verify_certificate,
            search_dn: ldap.search_dn,
            base_dn: ldap.base_dn,
            user_filter: ldap.user_filter,
            uid_attribute: ldap.uid_attribute,
            group_base_dn: ldap.group_base_dn,
            group_filter: ldap.group_filter,
            group_name_attribute: ldap.group_name_attribute,
            group_member_attribute: ldap.group_member_attribute,
            admin_group_dn: ldap.admin_group_dn,
            timeout_seconds: ldap.timeout_seconds,
        },
        oidc: OidcView {
            has_client_secret: !oidc.client_secret.is_empty(),
            scopes: oidc.scopes.join(","),
            provider_name: oidc.provider_name,
            issuer_url: oidc.issuer_url,
            client_id: oidc.client_id,
            username_claim: oidc.username_claim,
            groups_claim: oidc.groups_claim,
            admin_group: oidc.admin_group,
            verify_certificate: oidc.verify_certificate,
        },
        accounts: state.users.accounts_by_source(&actor).await?,
        project_creation_admin_only: settings.project_creation_admin_only().await?,
        session_lifetime_minutes: state.auth.session_lifetime().await?.as_secs() / 60,
        robot_token_duration_days: settings.robot_token_duration_days().await?,
    })
}

/// Users sign in with database accounts from now on.
#[server(prefix = "/portal/fn", endpoint = "use_database_login")]
pub async fn use_database_login() -> Result<(), AppError> {
    use crate::core::settings::LoginSettings;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<crate::core::AppState>();
    Ok(state.settings.set_login(&actor, &LoginSettings::Database).await?)
}

/// The LDAP form's fields, as it posts them (a field left out is empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapForm {
    pub url: String,
    pub start_tls: Option<String>,
    pub verify_certificate: Option<String>,
    pub search_dn: String,
    /// Empty keeps the saved password.
    pub search_password: String,
    pub base_dn: String,
    pub scope: String,
    pub user_filter: String,
    pub uid_attribute: String,
    pub group_base_dn: String,
    pub group_filter: String,
    pub group_name_attribute: String,
    pub group_member_attribute: String,
    pub admin_group_dn: String,
    pub timeout_seconds: String,
}

/// The OIDC form's fields, as it posts them (a field left out is empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcForm {
    pub provider_name: String,
    pub issuer_url: String,
    pub client_id: String,
    /// Empty keeps the saved secret.
    pub client_secret: String,
    pub scopes: String,
    pub username_claim: String,
    pub groups_claim: String,
    pub admin_group: String,
    pub verify_certificate: Option<String>,
}

/// Saves the LDAP settings and makes LDAP the login mode.
#[server(prefix = "/portal/fn", endpoint = "use_ldap_login")]
pub async fn use_ldap_login(ldap: LdapForm) -> Result<(), AppError> {
    use crate::core::settings::LoginSettings;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<crate::core::AppState>();
    let settings = convert::ldap(&actor, &ldap).await?;
    Ok(state.settings.set_login(&actor, &LoginSettings::Ldap(Box::new(settings))).await?)
}

/// "Test LDAP connection" with the settings in the form (saved or not).
#[server(prefix = "/portal/fn", endpoint = "test_ldap_login")]
pub async fn test_ldap_login(ldap: LdapForm) -> Result<(), AppError> {
    let actor = crate::api::session::require_actor().await?;
    let settings = convert::ldap(&actor, &ldap).await?;
    Ok(expect_context::<crate::core::AppState>().auth.test_ldap(&actor, &settings).await?)
}

/// Saves the OIDC settings and makes OIDC the login mode.
#[server(prefix = "/portal/fn", endpoint = "use_oidc_login")]
pub async fn use_oidc_login(oidc: OidcForm) -> Result<(), AppError> {
    use crate::core::settings::LoginSettings;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<crate::core::AppState>();
    let settings = convert::oidc(&actor, &oidc).await?;
    Ok(state.settings.set_login(&actor, &LoginSettings::Oidc(Box::new(settings))).await?)
}

/// "Check endpoint": discovers the issuer in the form; says what it found.
#[server(prefix = "/portal/fn", endpoint = "check_oidc_login")]
pub async fn check_oidc_login(oidc: OidcForm) -> Result<String, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let settings = convert::oidc(&actor, &oidc).await?;
    Ok(expect_context::<crate::core::AppState>().auth.check_oidc(&actor, &settings).await?)
}

/// The System section: who may create projects, how long portal sessions
/// opened from now on last (minutes) and a new robot's lifetime (days).
#[server(prefix = "/portal/fn", endpoint = "save_system_settings")]
pub async fn save_system_settings(
    project_creation_admin_only: Option<String>,
    session_lifetime_minutes: String,
    robot_token_duration_days: String,
) -> Result<(), AppError> {
    use crate::core::{Error, settings::SettingsChange};

    let actor = crate::api::session::require_actor().await?;
    let number = |field: &'static str, value: &str| {
        value.trim().parse::<u32>().map_err(|_| AppError::from(Error::invalid(field, "must be a whole number")))
    };
    let (admin_only, session, robot) = (
        crate::api::numbered::ticked(&project_creation_admin_only),
        number("session_lifetime", &session_lifetime_minutes)?,
        number("robot_token_duration", &robot_token_duration_days)?,
    );
    // Only what changed is written (and audited): a lifetime the form showed
    // from the configuration file is not pinned by saving another setting.
    let state = expect_context::<crate::core::AppState>();
    fn changed<T: PartialEq>(now: T, wanted: T) -> Option<T> {
        (now != wanted).then_some(wanted)
    }
    let change = SettingsChange {
        project_creation_admin_only: changed(state.settings.project_creation_admin_only().await?, admin_only),
        session_lifetime_minutes: (u64::from(session) != state.auth.session_lifetime().await?.as_secs() / 60)
            .then_some(session),
        robot_token_duration_days: changed(state.settings.robot_token_duration_days().await?, robot),
        ..SettingsChange::default()
    };
    Ok(state.settings.update(&actor, change).await?)
}

#[cfg(feature = "ssr")]
mod convert {
    use super::{LdapForm, OidcForm};
    use crate::{
        api::numbered::ticked,
        core::{
            AppState, Error, Result,
            access::require_system,
            identity::Actor,
            rbac::SystemAction,
            settings::{LdapScope, LdapSettings, OidcSettings},
        },
    };
    use leptos::prelude::expect_context;

    pub fn scope_name(scope: LdapScope) -> &'static str {
        match scope {
            LdapScope::Base => "base",
            LdapScope::OneLevel => "one_level",
            LdapScope::Subtree => "subtree",
        }
    }

    /// The form's LDAP settings over the saved ones: an empty password keeps
    /// the saved one, which goes only to the directory it was saved for.
    pub async fn ldap(actor: &Actor, form: &LdapForm) -> Result<LdapSettings> {
        let grant = require_system(actor, SystemAction::ManageSettings)?;
        let saved = expect_context::<AppState>().settings.saved_ldap(&grant).await?;
        let scope = match form.scope.as_str() {
            "base" => LdapScope::Base,
            "one_level" => LdapScope::OneLevel,
            "subtree" => LdapScope::Subtree,
            other => return Err(Error::invalid("scope", format!("{other:?} is not base, one_level or subtree"))),
        };
        let timeout_seconds = form
            .timeout_seconds
            .trim()
            .parse()
            .map_err(|_| Error::invalid("timeout_seconds", "must be a whole number of seconds"))?;
        let password_sent = !form.search_password.is_empty();
        let settings = LdapSettings {
            url: form.url.trim().to_owned(),
            start_tls: ticked(&form.start_tls),
            verify_certificate: ticked(&form.verify_certificate),
            search_dn: form.search_dn.trim().to_owned(),
            search_password: if password_sent { form.search_password.clone() } else { saved.search_password.clone() },
            base_dn: form.base_dn.trim().to_owned(),
            scope,
            user_filter: form.user_filter.trim().to_owned(),
            uid_attribute: form.uid_attribute.trim().to_owned(),
            group_base_dn: form.group_base_dn.trim().to_owned(),
            group_filter: form.group_filter.trim().to_owned(),
            group_name_attribute: form.group_name_attribute.trim().to_owned(),
            group_member_attribute: form.group_member_attribute.trim().to_owned(),
            admin_group_dn: form.admin_group_dn.trim().to_owned(),
            timeout_seconds,
        };
        settings.check_password_destination(&saved, password_sent)?;
        Ok(settings)
    }

    /// The form's OIDC settings over the saved ones: an empty secret keeps
    /// the saved one, which goes only to the issuer it was saved for.
    pub async fn oidc(actor: &Actor, form: &OidcForm) -> Result<OidcSettings> {
        let grant = require_system(actor, SystemAction::ManageSettings)?;
        let saved = expect_context::<AppState>().settings.saved_oidc(&grant).await?;
        let secret_sent = !form.client_secret.is_empty();
        let settings = OidcSettings {
            provider_name: form.provider_name.trim().to_owned(),
            issuer_url: form.issuer_url.trim().to_owned(),
            client_id: form.client_id.trim().to_owned(),
            client_secret: if secret_sent { form.client_secret.clone() } else { saved.client_secret.clone() },
            scopes: form.scopes.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            username_claim: form.username_claim.trim().to_owned(),
            groups_claim: form.groups_claim.trim().to_owned(),
            admin_group: form.admin_group.trim().to_owned(),
            verify_certificate: ticked(&form.verify_certificate),
        };
        settings.check_secret_destination(&saved, secret_sent)?;
        Ok(settings)
    }
}
