//! The browser's side of signing in through OIDC, at Harbor's paths:
//! `/c/oidc/login` sends the browser to the provider, `/c/oidc/callback` is
//! where the provider sends it back. Each sign-in in flight rides sealed in
//! a short-lived cookie of its own, so a callback is only accepted by the
//! browser that set off.
//! Failures land on the login page with a reason code (never free text an
//! attacker could put there); the details go to the log and the audit log.

use std::net::SocketAddr;

use axum::{
    Router,
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, HeaderValue, header::SET_COOKIE},
    response::{AppendHeaders, IntoResponse, Redirect, Response},
    routing::get,
};
use cookie::{Cookie, SameSite};
use serde::Deserialize;

use app::{
    api::{auth::local_redirect_target, session::session_cookie},
    core::{
        AppState, Error,
        auth::{OidcCallback, oidc_login_cookie},
    },
};

const CALLBACK_PATH: &str = "/c/oidc/callback";

pub fn router() -> Router<AppState> {
    Router::new().route("/c/oidc/login", get(login)).route(CALLBACK_PATH, get(callback))
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    let next = local_redirect_target(query.next.as_deref());
    match state.auth.begin_oidc_login(&redirect_uri(&state), &next).await {
        Ok(redirect) => {
            let cookie = sign_in_cookie(
                &redirect.cookie_name,
                &redirect.cookie_value,
                cookie::time::Duration::minutes(10),
                state.http.secure_cookies,
            );
            (AppendHeaders([(SET_COOKIE, cookie)]), Redirect::to(&redirect.url)).into_response()
        }
        Err(error) => back_to_login(&error),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let cookie_name = query.state.as_deref().map(oidc_login_cookie);
    let clear_state = cookie_name.as_deref().map_or_else(
        || HeaderValue::from_static("berth_oidc=; Max-Age=0; Path=/c/oidc"),
        |name| sign_in_cookie(name, "", cookie::time::Duration::ZERO, state.http.secure_cookies),
    );
    if let Some(error) = &query.error {
        tracing::info!(
            error,
            description = query.error_description.as_deref(),
            "the OIDC provider refused the sign-in"
        );
        return (AppendHeaders([(SET_COOKIE, clear_state)]), to_login("oidc_denied")).into_response();
    }
    let (Some(code), Some(returned_state), Some(cookie_name)) = (&query.code, &query.state, &cookie_name) else {
        return (AppendHeaders([(SET_COOKIE, clear_state)]), to_login("oidc_state")).into_response();
    };
    let sealed_login = cookie_value(&headers, cookie_name);
    let client_addr = crate::client_addr::text(peer.ip());
    let finished = state
        .auth
        .finish_oidc_login(OidcCallback {
            redirect_uri: &redirect_uri(&state),
            code,
            state: returned_state,
            sealed_login: sealed_login.as_deref(),
            client_addr: Some(&client_addr),
        })
        .await;
    match finished {
        Ok(session) => {
            let session_cookie = session_cookie(&session.token, session.lifetime, state.http.secure_cookies);
            let next = local_redirect_target(Some(&session.next_path));
            (AppendHeaders([(SET_COOKIE, clear_state), (SET_COOKIE, session_cookie)]), Redirect::to(&next))
                .into_response()
        }
        Err(error) => (AppendHeaders([(SET_COOKIE, clear_state)]), back_to_login(&error)).into_response(),
    }
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.http.external_origin)
}

/// The login page with the reason code it explains to the user.
fn back_to_login(error: &Error) -> Response {
    let reason = match error {
        Error::Invalid { field: "state", .. } => "oidc_state",
        Error::Conflict(_) => "oidc_conflict",
        Error::Forbidden(_) => "oidc_off",
        Error::IdentityProvider(_) => "oidc_provider",
        _ => "oidc_failed",
    };
    match error {
        Error::IdentityProvider(_) | Error::Conflict(_) | Error::Invalid { .. } | Error::Forbidden(_) => {
            tracing::warn!(%error, "OIDC sign-in failed");
        }
        _ => tracing::error!(%error, "OIDC sign-in failed"),
    }
    to_login(reason)
}

fn to_login(reason: &str) -> Response {
    Redirect::to(&format!("/login?error={reason}")).into_response()
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

/// Lax: the provider's redirect back is a top-level navigation from another
/// site, which Lax cookies accompany; scoped to the callback's path.
fn sign_in_cookie(name: &str, value: &str, max_age: cookie::time::Duration, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/c/oidc")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie names are hex and values base64url")
}
