//! The portal session cookie, and finding the signed-in user of the request a
//! server function is answering. Server-only.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use leptos::prelude::*;

use crate::{
    api::AppError,
    core::{AppState, auth::SessionToken, identity::User},
};

pub const SESSION_COOKIE: &str = "berth_session";

/// The signed-in user, put in the request's extensions by the portal's session
/// middleware so a page render looks the session up once.
#[derive(Clone, Debug)]
pub struct SignedIn(pub User);

/// The session token carried by the request's cookies, if any.
pub fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE && !cookie.value().is_empty())
        .map(|cookie| SessionToken::from_cookie(cookie.value()))
}

/// `Set-Cookie` value that stores `token` for `max_age`.
pub fn session_cookie(token: &SessionToken, max_age: Duration, secure: bool) -> HeaderValue {
    let max_age = cookie::time::Duration::seconds(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
    build_cookie(token.as_str(), max_age, secure)
}

/// `Set-Cookie` value that makes the browser drop the session cookie.
pub fn expired_session_cookie(secure: bool) -> HeaderValue {
    build_cookie("", cookie::time::Duration::ZERO, secure)
}

fn build_cookie(value: &str, max_age: cookie::time::Duration, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .secure(secure)
        // Lax keeps links into the portal from other sites working; cross-site
        // writes are stopped by the origin check on every server function call.
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie built from URL-safe parts is a valid header")
}

/// The user signed in to the request being answered, if any.
pub async fn current_user() -> Result<Option<User>, AppError> {
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return Ok(None);
    };
    if let Some(SignedIn(user)) = parts.extensions.get::<SignedIn>() {
        return Ok(Some(user.clone()));
    }
    let Some(token) = session_token(&parts.headers) else {
        return Ok(None);
    };
    let state = expect_context::<AppState>();
    Ok(state.auth.user_for_session(&token).await?)
}

/// The address of the client calling the server function, for the audit log.
pub async fn client_addr() -> Option<String> {
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;

    leptos_axum::extract::<ConnectInfo<SocketAddr>>().await.ok().map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The signed-in user, or [`AppError::Unauthenticated`].
pub async fn require_user() -> Result<User, AppError> {
    current_user().await?.ok_or_else(|| AppError::Unauthenticated.respond())
}

/// The signed-in user as the core's actor, with the client's address for
/// the audit log; [`AppError::Unauthenticated`] without a session.
pub async fn require_actor() -> Result<crate::core::identity::Actor, AppError> {
    let user = require_user().await?;
    Ok(crate::core::identity::Actor {
        principal: crate::core::identity::Principal::User(user),
        client_addr: client_addr().await,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; berth_session=abc123"));
        assert_eq!(session_token(&headers), Some(SessionToken::from_cookie("abc123")));
        headers.clear();
        headers.append(header::COOKIE, HeaderValue::from_static("berth_session="));
        assert_eq!(session_token(&headers), None);
    }

    #[test]
    fn cookie_attributes() {
        let token = SessionToken::from_cookie("t0k");
        let value = session_cookie(&token, Duration::from_secs(60), true);
        let value = value.to_str().unwrap();
        for part in ["berth_session=t0k", "HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=60"] {
            assert!(value.contains(part), "{value} lacks {part}");
        }
        let cleared = expired_session_cookie(false);
        assert!(!cleared.to_str().unwrap().contains("Secure"));
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"));
    }
}
