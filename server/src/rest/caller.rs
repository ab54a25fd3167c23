//! Who is calling the REST API: HTTP Basic with a password, CLI secret or
//! robot secret, or the portal's session cookie. Cookie-authenticated
//! writes must come from this site (the same origin check the portal's
//! server functions get); Basic credentials carry no ambient authority.

use axum::{
    extract::FromRequestParts,
    http::{Method, request::Parts},
};

use super::error::ApiError;
use crate::{
    credentials::{Presented, presented, sign_in},
    same_origin::is_same_origin,
};
use app::{
    api::session::session_token,
    core::{
        AppState, Error,
        identity::{Actor, Principal},
    },
};

/// The caller of a REST request; anonymous when no credentials came.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client_addr = crate::client_addr::of_request(&parts.extensions);
        let principal = match presented(&parts.headers) {
            Presented::Basic { username, password } => {
                match sign_in(state, &username, password, client_addr.as_deref(), "REST API").await {
                    Ok(principal) => principal,
                    Err(Error::InvalidCredentials) => {
                        return Err(ApiError::unauthorized("invalid username or password"));
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            Presented::Bearer(_) | Presented::Malformed => {
                return Err(ApiError::unauthorized("send Basic credentials or use a portal session"));
            }
            Presented::None => match session_token(&parts.headers) {
                None => Principal::Anonymous,
                Some(token) => {
                    let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                    if writes && !is_same_origin(&parts.headers, &state.http.external_origin) {
                        return Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, "cross-origin request refused"));
                    }
                    match state.auth.user_for_session(&token).await? {
                        Some(user) => Principal::User(user),
                        None => return Err(ApiError::unauthorized("the session has expired; sign in again")),
                    }
                }
            },
        };
        Ok(Self(Actor { principal, client_addr }))
    }
}

impl Caller {
    pub fn is_anonymous(&self) -> bool {
        self.0.principal == Principal::Anonymous
    }

    /// The actor, or 401 for anonymous callers.
    pub fn signed_in(self) -> Result<Actor, ApiError> {
        match self.0.principal {
            Principal::Anonymous => Err(ApiError::unauthorized("sign in to use this endpoint")),
            _ => Ok(self.0),
        }
    }
}
