//! The docker token service at `/service/token`: clients that got a 401
//! challenge from `/v2` come here with their credentials (Basic, or none
//! for anonymous pulls) and the scopes they want, and get a signed registry
//! token for the part of those scopes they may have. Both forms of the
//! protocol: `GET` with query parameters (docker, podman, skopeo) and the
//! OAuth2 `POST` form (containerd, newer clients; password grant only —
//! refresh tokens are not issued).

use std::net::SocketAddr;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use crate::credentials::{Presented, presented, sign_in};
use app::core::{
    AppState, Error,
    access::{AccessEntry, Scope},
    auth::tokens::IssuedToken,
    identity::Principal,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/service/token", get(get_token).post(post_token))
}

#[derive(Serialize)]
struct TokenResponse {
    token: String,
    access_token: String,
    expires_in: u64,
    issued_at: String,
}

/// `GET /service/token?service=…&scope=…[&scope=…]` with optional Basic credentials.
async fn get_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let client_addr = crate::client_addr::text(peer.ip());
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    if let Some(error) = wrong_service(&state, params.iter().find(|(k, _)| k == "service").map(|(_, v)| v.as_str())) {
        return error;
    }
    let principal = match presented(&headers) {
        Presented::None => Principal::Anonymous,
        Presented::Bearer(_) | Presented::Malformed => {
            return token_error(StatusCode::UNAUTHORIZED, "send Basic credentials, or none for anonymous access");
        }
        Presented::Basic { username, password } => {
            match sign_in(&state, &username, password, Some(&client_addr), "token service").await {
                Ok(principal) => principal,
                Err(Error::InvalidCredentials) => {
                    return token_error(StatusCode::UNAUTHORIZED, "invalid username or password");
                }
                Err(error @ Error::Throttled { .. }) => {
                    return token_error(StatusCode::TOO_MANY_REQUESTS, &error.to_string());
                }
                Err(error) => return failed(error),
            }
        }
    };
    let scopes = scopes(params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str()));
    // Credentials without a scope: what `docker login` sends to check them.
    if scopes.is_empty() && principal != Principal::Anonymous {
        state.auth.record_login(principal.name(), Some(&client_addr), "token service", None).await;
    }
    match issue(&state, &principal, &scopes).await {
        Ok((issued, _)) => Json(TokenResponse {
            token: issued.token.clone(),
            access_token: issued.token,
            expires_in: issued.expires_in,
            issued_at: issued.issued_at.to_rfc3339(),
        })
        .into_response(),
        Err(error) => failed(error),
    }
}

/// The fields of an OAuth2 token request that matter here.
#[derive(Default)]
struct OAuthForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    service: Option<String>,
    scopes: Vec<String>,
}

impl OAuthForm {
    /// Reads the form leniently (repeated `scope` fields add up; unknown
    /// fields are ignored), so every malformed request still gets an OAuth2
    /// JSON error rather than a framework's plain-text one.
    fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "grant_type" => form.grant_type = Some(value),
                "username" => form.username = Some(value),
                "password" => form.password = Some(value),
                "service" => form.service = Some(value),
                "scope" => form.scopes.push(value),
                _ => {}
            }
        }
        form
    }
}

#[derive(Serialize)]
struct OAuthResponse {
    access_token: String,
    token_type: &'static str,
    scope: String,
    expires_in: u64,
    issued_at: String,
}

/// `POST /service/token` with `grant_type=password` (OAuth2 form).
async fn post_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let form = OAuthForm::parse(&body);
    if let Some(error) = wrong_service(&state, form.service.as_deref()) {
        return error;
    }
    if form.grant_type.as_deref() != Some("password") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only the password grant is supported");
    }
    let (Some(username), Some(password)) = (form.username, form.password) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "username and password are required");
    };
    let principal =
        match sign_in(&state, &username, password, Some(&crate::client_addr::text(peer.ip())), "token service").await {
            Ok(principal) => principal,
            Err(Error::InvalidCredentials) => {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_grant", "invalid username or password");
            }
            Err(error @ Error::Throttled { .. }) => {
                return oauth_error(StatusCode::TOO_MANY_REQUESTS, "invalid_grant", &error.to_string());
            }
            Err(error) => return oauth_failed(error),
        };
    let scopes = scopes(form.scopes.iter().map(String::as_str));
    match issue(&state, &principal, &scopes).await {
        Ok((issued, granted)) => Json(OAuthResponse {
            access_token: issued.token,
            token_type: "Bearer",
            scope: granted
                .iter()
                .filter(|entry| !entry.actions.is_empty())
                .map(|entry| format!("{}:{}:{}", entry.kind, entry.name, entry.actions.join(",")))
                .collect::<Vec<_>>()
                .join(" "),
            expires_in: issued.expires_in,
            issued_at: issued.issued_at.to_rfc3339(),
        })
        .into_response(),
        Err(error) => oauth_failed(error),
    }
}

async fn issue(
    state: &AppState,
    principal: &Principal,
    scopes: &[Scope],
) -> Result<(IssuedToken, Vec<AccessEntry>), Error> {
    let granted = state.access.grant(principal, scopes).await?;
    let issued = state.tokens.issue(principal.name(), granted.clone())?;
    Ok((issued, granted))
}

/// Most scopes one token request may name; the rest are ignored (each
/// costs a permission lookup).
const MAX_SCOPES: usize = 64;

/// Every scope in the `scope` values (one per parameter, or several
/// separated by spaces); malformed ones are ignored, as distribution does.
fn scopes<'a>(values: impl Iterator<Item = &'a str>) -> Vec<Scope> {
    values.flat_map(|v| v.split(' ')).filter_map(Scope::parse).take(MAX_SCOPES).collect()
}

/// Tokens are only issued for this registry: another `service` is a client mix-up.
fn wrong_service(state: &AppState, service: Option<&str>) -> Option<Response> {
    let service = service.filter(|s| !s.is_empty())?;
    (service != state.tokens.service()).then(|| {
        token_error(
            StatusCode::BAD_REQUEST,
            &format!("this token service issues tokens for {:?}, not {service:?}", state.tokens.service()),
        )
    })
}

fn token_error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::TOO_MANY_REQUESTS => "TOOMANYREQUESTS",
        StatusCode::BAD_REQUEST => "UNSUPPORTED",
        StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
        _ => "UNAUTHORIZED",
    };
    let body = serde_json::json!({ "errors": [{ "code": code, "message": message }] });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"berth\""));
    }
    response
}

fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> Response {
    (status, Json(serde_json::json!({ "error": error, "error_description": description }))).into_response()
}

/// A failure that is not about the credentials: 503 when something the
/// service depends on is down (a retry may succeed), 500 otherwise.
fn failed(error: Error) -> Response {
    if error.is_unavailable() {
        tracing::warn!(error = ?error, "token service unavailable");
        return token_error(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
    }
    tracing::error!(%error, "token service failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({ "errors": [{ "code": "UNKNOWN", "message": "internal server error" }] })),
    )
        .into_response()
}

/// [`failed`] in OAuth2's shape.
fn oauth_failed(error: Error) -> Response {
    if error.is_unavailable() {
        tracing::warn!(error = ?error, "token service unavailable");
        return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", &error.to_string());
    }
    tracing::error!(%error, "token service failed");
    oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal server error")
}

/// Property test of the scope parser: whatever a client asks for, the
/// scopes read are bounded in number, well formed, and print back to
/// themselves.
#[cfg(test)]
mod properties {
    use app::core::access::Scope;
    use proptest::prelude::*;

    use super::{MAX_SCOPES, scopes};

    proptest! {
        #[test]
        fn scopes_are_well_formed_and_bounded(
            raw in "((repository|registry)(\\([a-z]{0,8}\\))?:[a-z0-9/._:-]{0,40}:[a-z*,]{0,20} ?){0,100}|\\PC{0,200}"
        ) {
            let parsed = scopes(std::iter::once(raw.as_str()));
            prop_assert!(parsed.len() <= MAX_SCOPES);
            for scope in &parsed {
                prop_assert!(!scope.kind.is_empty() && !scope.name.is_empty());
                prop_assert!(scope.actions.iter().all(|action| !action.is_empty() && !action.contains(',')));
                let reparsed = Scope::parse(&scope.to_string());
                prop_assert_eq!(reparsed.as_ref(), Some(scope));
            }
        }
    }
}
