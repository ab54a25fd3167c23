//! `GET`/`PUT /api/v2.0/configurations`: the login mode, LDAP and OIDC
//! settings, self-registration, who may create projects, the portal's
//! session lifetime and new robots' lifetime, with Harbor's
//! key names and shapes (`GET` answers `{"key":{"value":…,"editable":true}}`,
//! `PUT` takes `{"key":value}` for the keys to change). System
//! administrators only; secrets are written, never read back.

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Map, Value, json};

use super::{
    caller::Caller,
    error::Errors,
    error::{ApiError, ApiResult},
};
use app::core::{
    AppState, Error,
    access::{SystemGrant, require_system},
    rbac::SystemAction,
    settings::{LdapScope, LdapSettings, LoginSettings, OidcSettings, SettingsChange},
};

#[utoipa::path(get, path = "/api/v2.0/configurations", tag = "configure", responses((status = 200, description = "Settings, each with value and editable", body = Object), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn get_configurations(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let grant = admin(caller)?;
    let settings = &state.settings;
    let login = settings.login(&grant).await?;
    let ldap = settings.saved_ldap(&grant).await?;
    let oidc = settings.saved_oidc(&grant).await?;
    let scope = match ldap.scope {
        LdapScope::Base => 0,
        LdapScope::OneLevel => 1,
        LdapScope::Subtree => 2,
    };
    let restriction = if settings.project_creation_admin_only().await? { "adminonly" } else { "everyone" };
    let session_minutes = state.auth.session_lifetime().await?.as_secs() / 60;
    let values = json!({
        "auth_mode": login.mode_name(),
        "self_registration": settings.self_registration_setting(&grant).await?,
        "project_creation_restriction": restriction,
        "robot_token_duration": settings.robot_token_duration_days().await?,
        "session_timeout": session_minutes,
        "ldap_url": ldap.url,
        "ldap_start_tls": ldap.start_tls,
        "ldap_verify_cert": ldap.verify_certificate,
        "ldap_search_dn": ldap.search_dn,
        "ldap_base_dn": ldap.base_dn,
        "ldap_scope": scope,
        "ldap_filter": ldap.user_filter,
        "ldap_uid": ldap.uid_attribute,
        "ldap_group_base_dn": ldap.group_base_dn,
        "ldap_group_search_filter": ldap.group_filter,
        "ldap_group_attribute_name": ldap.group_name_attribute,
        "ldap_group_membership_attribute": ldap.group_member_attribute,
        "ldap_group_admin_dn": ldap.admin_group_dn,
        "ldap_timeout": ldap.timeout_seconds,
        "oidc_name": oidc.provider_name,
        "oidc_endpoint": oidc.issuer_url,
        "oidc_client_id": oidc.client_id,
        "oidc_scope": oidc.scopes.join(","),
        "oidc_user_claim": oidc.username_claim,
        "oidc_groups_claim": oidc.groups_claim,
        "oidc_admin_group": oidc.admin_group,
        "oidc_verify_cert": oidc.verify_certificate,
    });
    let Value::Object(values) = values else { unreachable!("json! of an object literal") };
    let mut shaped: Map<String, Value> =
        values.into_iter().map(|(key, value)| (key, json!({ "value": value, "editable": true }))).collect();
    for (key, value) in FIXED {
        shaped.insert((*key).to_owned(), json!({ "value": value(), "editable": false }));
    }
    Ok(Json(Value::Object(shaped)))
}

#[utoipa::path(put, path = "/api/v2.0/configurations", tag = "configure", request_body = Object, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn put_configurations(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let grant = admin(caller)?;
    let actor = grant.actor();
    let changes: Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body must be a JSON object of settings: {e}")))?;
    let settings = &state.settings;
    let current = settings.login(&grant).await?;
    let (saved_ldap, saved_oidc) = (settings.saved_ldap(&grant).await?, settings.saved_oidc(&grant).await?);
    let mut change = Change {
        mode: current.mode_name().to_owned(),
        ldap: saved_ldap.clone(),
        oidc: saved_oidc.clone(),
        ldap_changed: false,
        oidc_changed: false,
        self_registration: None,
        admin_only_projects: None,
        session_minutes: None,
        robot_days: None,
    };
    for (key, value) in &changes {
        change.apply(key, value)?;
    }
    // A saved secret is only ever sent to the server it was saved for.
    let sent = |key| changes.get(key).and_then(Value::as_str).is_some_and(|secret| !secret.is_empty());
    change.ldap.check_password_destination(&saved_ldap, sent("ldap_search_password")).map_err(in_harbor_terms)?;
    change.oidc.check_secret_destination(&saved_oidc, sent("oidc_client_secret")).map_err(in_harbor_terms)?;
    let wanted = match change.mode.as_str() {
        "db_auth" => LoginSettings::Database,
        "ldap_auth" => LoginSettings::Ldap(Box::new(change.ldap.clone())),
        "oidc_auth" => LoginSettings::Oidc(Box::new(change.oidc.clone())),
        other => {
            return Err(ApiError::bad_request(format!("auth_mode: {other:?} is not db_auth, ldap_auth or oidc_auth")));
        }
    };
    // Everything the request changes applies together, or nothing does.
    let update = SettingsChange {
        login: (wanted != current).then(|| wanted.clone()),
        ldap: (change.ldap_changed && !matches!(wanted, LoginSettings::Ldap(_))).then_some(change.ldap),
        oidc: (change.oidc_changed && !matches!(wanted, LoginSettings::Oidc(_))).then_some(change.oidc),
        self_registration: change.self_registration,
        project_creation_admin_only: change.admin_only_projects,
        session_lifetime_minutes: change.session_minutes,
        robot_token_duration_days: change.robot_days,
    };
    settings.update(actor, update).await.map_err(in_harbor_terms)?;
    Ok(StatusCode::OK)
}

fn admin(caller: Caller) -> ApiResult<SystemGrant> {
    Ok(require_system(&caller.signed_in()?, SystemAction::ManageSettings)?)
}

type FixedValue = fn() -> Value;

/// Harbor settings whose other values Berth does not implement: shown with
/// the one value Berth has, accepted when sent with it, refused otherwise.
const FIXED: &[(&str, FixedValue)] = &[
    // Berth always creates the account on the first sign-in.
    ("oidc_auto_onboard", || Value::Bool(true)),
    ("oidc_logout", || Value::Bool(false)),
    ("oidc_extra_redirect_parms", || Value::String("{}".into())),
    ("oidc_group_filter", || Value::String(String::new())),
    // Groups are searched in the whole subtree under the group base DN.
    ("ldap_group_search_scope", || Value::from(2)),
];

/// The settings a `PUT` body asks for, built on the stored ones.
struct Change {
    mode: String,
    ldap: LdapSettings,
    oidc: OidcSettings,
    ldap_changed: bool,
    oidc_changed: bool,
    self_registration: Option<bool>,
    admin_only_projects: Option<bool>,
    session_minutes: Option<u32>,
    robot_days: Option<u32>,
}

impl Change {
    /// One key of the body; unknown keys and wrong types are refused, naming the key.
    fn apply(&mut self, key: &str, value: &Value) -> ApiResult<()> {
        let ldap = &mut self.ldap;
        let oidc = &mut self.oidc;
        if let Some((_, fixed)) = FIXED.iter().find(|(name, _)| *name == key) {
            let fixed = fixed();
            let same = match (&fixed, value) {
                (Value::String(want), Value::String(got)) => want == got || (want == "{}" && got.is_empty()),
                (want, got) => want == got,
            };
            return if same {
                Ok(())
            } else {
                Err(ApiError::bad_request(format!("{key}: Berth supports only {fixed}")))
            };
        }
        match key {
            "auth_mode" => self.mode = text(key, value)?,
            "self_registration" => self.self_registration = Some(flag(key, value)?),
            "session_timeout" => self.session_minutes = Some(small_number(key, value)?),
            "robot_token_duration" => self.robot_days = Some(small_number(key, value)?),
            "project_creation_restriction" => {
                self.admin_only_projects = Some(match text(key, value)?.as_str() {
                    "adminonly" => true,
                    "everyone" => false,
                    other => {
                        return Err(ApiError::bad_request(format!("{key}: {other:?} is not everyone or adminonly")));
                    }
                })
            }
            _ if key.starts_with("ldap_") => {
                self.ldap_changed = true;
                match key {
                    "ldap_url" => ldap.url = text(key, value)?,
                    "ldap_start_tls" => ldap.start_tls = flag(key, value)?,
                    "ldap_verify_cert" => ldap.verify_certificate = flag(key, value)?,
                    "ldap_search_dn" => ldap.search_dn = text(key, value)?,
                    "ldap_search_password" => ldap.search_password = text(key, value)?,
                    "ldap_base_dn" => ldap.base_dn = text(key, value)?,
                    "ldap_scope" => {
                        ldap.scope = match number(key, value)? {
                            0 => LdapScope::Base,
                            1 => LdapScope::OneLevel,
                            2 => LdapScope::Subtree,
                            other => return Err(ApiError::bad_request(format!("{key}: {other} is not 0, 1 or 2"))),
                        }
                    }
                    "ldap_filter" => ldap.user_filter = text(key, value)?,
                    "ldap_uid" => ldap.uid_attribute = text(key, value)?,
                    "ldap_group_base_dn" => ldap.group_base_dn = text(key, value)?,
                    "ldap_group_search_filter" => ldap.group_filter = text(key, value)?,
                    "ldap_group_attribute_name" => ldap.group_name_attribute = text(key, value)?,
                    "ldap_group_membership_attribute" => ldap.group_member_attribute = text(key, value)?,
                    "ldap_group_admin_dn" => ldap.admin_group_dn = text(key, value)?,
                    "ldap_timeout" => ldap.timeout_seconds = number(key, value)?,
                    _ => return Err(unknown(key)),
                }
            }
            _ if key.starts_with("oidc_") => {
                self.oidc_changed = true;
                match key {
                    "oidc_name" => oidc.provider_name = text(key, value)?,
                    "oidc_endpoint" => oidc.issuer_url = text(key, value)?,
                    "oidc_client_id" => oidc.client_id = text(key, value)?,
                    "oidc_client_secret" => oidc.client_secret = text(key, value)?,
                    "oidc_scope" => {
                        oidc.scopes = text(key, value)?
                            .split(',')
                            .map(str::trim)
                            .filter(|scope| !scope.is_empty())
                            .map(str::to_owned)
                            .collect()
                    }
                    "oidc_user_claim" => oidc.username_claim = text(key, value)?,
                    "oidc_groups_claim" => oidc.groups_claim = text(key, value)?,
                    "oidc_admin_group" => oidc.admin_group = text(key, value)?,
                    "oidc_verify_cert" => oidc.verify_certificate = flag(key, value)?,
                    _ => return Err(unknown(key)),
                }
            }
            _ => return Err(unknown(key)),
        }
        Ok(())
    }
}

/// A refused setting, named by the key the caller sent rather than the
/// core's field name.
pub(super) fn in_harbor_terms(error: Error) -> ApiError {
    let Error::Invalid { field, message } = error else {
        return error.into();
    };
    let key = match field {
        "url" => "ldap_url",
        "start_tls" => "ldap_start_tls",
        "base_dn" => "ldap_base_dn",
        "uid_attribute" => "ldap_uid",
        "user_filter" => "ldap_filter",
        "group_filter" => "ldap_group_search_filter",
        "timeout_seconds" => "ldap_timeout",
        "search_password" => "ldap_search_password",
        "issuer_url" => "oidc_endpoint",
        "client_id" => "oidc_client_id",
        "client_secret" => "oidc_client_secret",
        "scopes" => "oidc_scope",
        "username_claim" => "oidc_user_claim",
        "provider_name" => "oidc_name",
        "session_lifetime" => "session_timeout",
        "robot_token_duration" => "robot_token_duration",
        other => other,
    };
    ApiError::bad_request(format!("{key}: {message}"))
}

fn unknown(key: &str) -> ApiError {
    ApiError::bad_request(format!("{key}: not a configuration Berth knows"))
}

fn text(key: &str, value: &Value) -> ApiResult<String> {
    value.as_str().map(str::to_owned).ok_or_else(|| ApiError::bad_request(format!("{key}: must be a string")))
}

fn flag(key: &str, value: &Value) -> ApiResult<bool> {
    value.as_bool().ok_or_else(|| ApiError::bad_request(format!("{key}: must be true or false")))
}

fn small_number(key: &str, value: &Value) -> ApiResult<u32> {
    u32::try_from(number(key, value)?).map_err(|_| ApiError::bad_request(format!("{key}: is too large")))
}

fn number(key: &str, value: &Value) -> ApiResult<u64> {
    value.as_u64().ok_or_else(|| ApiError::bad_request(format!("{key}: must be a whole number")))
}
