//! Credentials as presented in an `Authorization` header, read once for
//! the registry API and the token service alike, and checked against users
//! or robot accounts.

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::STANDARD};

use app::core::{AppState, Error, Result, identity::Principal, identity::ROBOT_PREFIX};

/// The principal a Basic username/secret pair signs in as: a robot account
/// (`robot$…`, with its secret) or a user (with their password). Refusals
/// go to the audit log, naming the way in (`through`) and the address.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    secret: String,
    client_addr: Option<&str>,
    through: &str,
) -> Result<Principal> {
    let signed_in = if username.starts_with(ROBOT_PREFIX) {
        // Robots are throttled like users: a robot secret is a password too.
        let check = state.robots.authenticate(username, &secret);
        state.auth.throttled(username, client_addr, check).await.map(Principal::Robot)
    } else {
        state.auth.authenticate(username, secret, client_addr).await.map(Principal::User)
    };
    if let Err(error @ (Error::InvalidCredentials | Error::Throttled { .. })) = &signed_in {
        state.auth.record_login(Some(username), client_addr, through, Some(error)).await;
    }
    signed_in
}

/// The live account a registry token names: `None` for anonymous tokens
/// and for accounts that are gone, disabled or expired.
pub async fn token_principal(state: &AppState, subject: &str) -> Result<Option<Principal>> {
    if subject.is_empty() {
        return Ok(None);
    }
    if subject.starts_with(ROBOT_PREFIX) {
        return Ok(state.robots.find_usable(subject).await?.map(Principal::Robot));
    }
    Ok(state.users.find(subject).await?.map(Principal::User))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
    /// An `Authorization` header that is neither readable Basic nor Bearer.
    Malformed,
}

pub fn presented(headers: &HeaderMap) -> Presented {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Presented::None;
    };
    let Ok(value) = value.to_str() else {
        return Presented::Malformed;
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return Presented::Malformed;
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Bearer(rest.trim().to_owned());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Presented::Malformed;
    }
    let decoded = STANDARD.decode(rest.trim()).ok().and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        // containers/image sends an empty pair (`Og==`) for anonymous
        // requests after a Basic challenge: that is no credentials at all.
        Some(("", "")) => Presented::None,
        Some((username, password)) => Presented::Basic { username: username.to_owned(), password: password.to_owned() },
        None => Presented::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn reads_basic_and_bearer() {
        assert_eq!(presented(&HeaderMap::new()), Presented::None);
        // "alice:pa:ss" — the password may contain colons.
        assert_eq!(
            presented(&with("Basic YWxpY2U6cGE6c3M=")),
            Presented::Basic { username: "alice".into(), password: "pa:ss".into() }
        );
        assert_eq!(presented(&with("bearer abc.def.ghi")), Presented::Bearer("abc.def.ghi".into()));
        assert_eq!(presented(&with("Basic Og==")), Presented::None, "an empty pair is anonymous");
        for bad in ["Basic !!!", "Basic YWxpY2U=", "Digest x", "Basic"] {
            assert_eq!(presented(&with(bad)), Presented::Malformed, "{bad}");
        }
    }
}
