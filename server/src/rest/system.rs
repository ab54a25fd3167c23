//! `GET /api/v2.0/systeminfo` and `POST /api/v2.0/ldap/ping` in Harbor's
//! shapes: what a client needs to know about this registry before signing
//! in (more once signed in), and the LDAP "test connection" action.

use axum::{Json, extract::State};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    caller::Caller,
    error::Errors,
    error::{ApiError, ApiResult},
};
use app::core::{AppState, access::require_system, rbac::SystemAction, settings::LdapScope};

#[utoipa::path(get, path = "/api/v2.0/systeminfo", tag = "system", responses((status = 200, description = "What clients need to know", body = Object)), security((), ("basic" = [])))]
pub async fn system_info(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let mode = state.settings.sign_in_mode().await?;
    let mut info = json!({
        "auth_mode": mode.mode_name,
        "primary_auth_mode": false,
        "self_registration": state.settings.self_registration().await?,
        "harbor_version": format!("berth-{}", env!("CARGO_PKG_VERSION")),
        "oidc_provider_name": mode.oidc_provider,
        "banner_message": "",
        "current_time": Utc::now(),
    });
    if !caller.is_anonymous() {
        let overview = state.system.overview(&caller.0).await?;
        let restriction = if state.settings.project_creation_admin_only().await? { "adminonly" } else { "everyone" };
        let extra = json!({
            "external_url": state.http.external_origin,
            "registry_url": state.http.registry_host(),
            "project_creation_restriction": restriction,
            "has_ca_root": false,
            "read_only": false,
            "notification_enable": false,
            "registry_storage_provider_name":
                if overview.storage_location.starts_with("s3://") { "s3" } else { "filesystem" },
        });
        if let (Value::Object(info), Value::Object(extra)) = (&mut info, extra) {
            info.extend(extra);
        }
    }
    Ok(Json(info))
}

/// Harbor's `LdapConf`: settings to test, each falling back to the saved one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapConf {
    ldap_url: Option<String>,
    ldap_search_dn: Option<String>,
    ldap_search_password: Option<String>,
    ldap_base_dn: Option<String>,
    ldap_filter: Option<String>,
    ldap_uid: Option<String>,
    ldap_scope: Option<u8>,
    ldap_connection_timeout: Option<u64>,
    ldap_verify_cert: Option<bool>,
}

#[utoipa::path(post, path = "/api/v2.0/ldap/ping", tag = "system", request_body = LdapConf, responses((status = 200, description = "Whether the directory answered", body = Object), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
/// Tests LDAP settings (the body's, else the saved ones) against the
/// directory: Harbor's `{"success": …, "message": …}`, 200 either way for a
/// directory that answered wrongly or settings that cannot work.
pub async fn ldap_ping(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    // Administrators only, before anything saved is read.
    let grant = require_system(&caller.signed_in()?, SystemAction::ManageSettings)?;
    let conf: LdapConf = if body.is_empty() {
        serde_json::from_str("{}").expect("an empty object is an LdapConf")
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid LDAP settings: {e}")))?
    };
    let saved = state.settings.saved_ldap(&grant).await?;
    let mut ldap = saved.clone();
    let text = |value: Option<String>, current: &mut String| {
        if let Some(value) = value {
            *current = value;
        }
    };
    text(conf.ldap_url, &mut ldap.url);
    text(conf.ldap_search_dn, &mut ldap.search_dn);
    // Harbor's portal sends the masked password back; only a real one replaces the saved one.
    let password = conf.ldap_search_password.filter(|p| !p.is_empty() && p != "*****");
    let password_sent = password.is_some();
    text(password, &mut ldap.search_password);
    text(conf.ldap_base_dn, &mut ldap.base_dn);
    text(conf.ldap_filter, &mut ldap.user_filter);
    text(conf.ldap_uid, &mut ldap.uid_attribute);
    if let Some(scope) = conf.ldap_scope {
        ldap.scope = match scope {
            0 => LdapScope::Base,
            1 => LdapScope::OneLevel,
            2 => LdapScope::Subtree,
            other => return Err(ApiError::bad_request(format!("ldap_scope: {other} is not 0, 1 or 2"))),
        };
    }
    if let Some(timeout) = conf.ldap_connection_timeout {
        ldap.timeout_seconds = timeout;
    }
    if let Some(verify) = conf.ldap_verify_cert {
        ldap.verify_certificate = verify;
    }
    // The saved password never goes to another directory than its own.
    ldap.check_password_destination(&saved, password_sent).map_err(super::configurations::in_harbor_terms)?;
    // Settings that cannot work fail the test, as an unreachable directory does.
    match state.auth.test_ldap(grant.actor(), &ldap).await {
        Ok(()) => Ok(Json(json!({"success": true, "message": "connected and read the base DN"}))),
        Err(error @ (app::core::Error::IdentityProvider(_) | app::core::Error::Invalid { .. })) => {
            Ok(Json(json!({"success": false, "message": error.to_string()})))
        }
        Err(other) => Err(other.into()),
    }
}
