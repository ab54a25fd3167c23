//! Signing in and out of the portal.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// The signed-in user as the browser sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub username: String,
    pub is_admin: bool,
}

/// Checks the credentials, sets the session cookie and sends the browser to
/// `next` (a path on this site) or the dashboard.
#[server(prefix = "/portal/fn", endpoint = "login")]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use axum::http::header::SET_COOKIE;

    use crate::{
        api::session::{client_addr, session_cookie},
        core::AppState,
    };

    let state = expect_context::<AppState>();
    let client_addr = client_addr().await;
    let (_user, session) = state.auth.login(&username, password, client_addr.as_deref()).await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(SET_COOKIE, session_cookie(&session.token, session.lifetime, state.http.secure_cookies));
    leptos_axum::redirect(&local_redirect_target(next.as_deref()));
    Ok(())
}

/// How the login page offers to sign in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginOptions {
    /// The OIDC provider's name, when users sign in through OIDC.
    pub oidc_provider: Option<String>,
}

#[server(prefix = "/portal/fn", endpoint = "login_options")]
pub async fn get_login_options() -> Result<LoginOptions, AppError> {
    use crate::core::AppState;

    let mode = expect_context::<AppState>().settings.sign_in_mode().await?;
    Ok(LoginOptions { oidc_provider: mode.oidc_provider })
}

/// Ends the session server-side, clears the cookie and returns to the login page.
#[server(prefix = "/portal/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use axum::http::{header::SET_COOKIE, request::Parts};

    use crate::{
        api::session::{expired_session_cookie, session_token},
        core::AppState,
    };

    let state = expect_context::<AppState>();
    if let Some(token) = use_context::<Parts>().and_then(|parts| session_token(&parts.headers)) {
        state.auth.logout(&token).await?;
    }
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(SET_COOKIE, expired_session_cookie(state.http.secure_cookies));
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user, or `None` for a visitor.
#[server(prefix = "/portal/fn", endpoint = "signed_in_user")]
pub async fn signed_in_user() -> Result<Option<SessionUser>, AppError> {
    let user = crate::api::session::current_user().await?;
    Ok(user.map(|user| SessionUser { username: user.username.to_string(), is_admin: user.is_admin }))
}

/// `next` when it is a path on this site, else the dashboard: a login link must
/// never be able to send the browser elsewhere.
pub fn local_redirect_target(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_target_stays_on_site() {
        assert_eq!(local_redirect_target(Some("/projects?page=2")), "/projects?page=2");
        for bad in
            [None, Some(""), Some("https://evil.example"), Some("//evil.example"), Some("/\\evil"), Some("/a\nb")]
        {
            assert_eq!(local_redirect_target(bad), "/", "{bad:?}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn server_functions_live_under_the_portal_prefix() {
        use leptos::server_fn::ServerFn;
        for path in [
            Login::PATH,
            Logout::PATH,
            SignedInUser::PATH,
            GetLoginOptions::PATH,
            crate::api::system::GetSystemOverview::PATH,
            crate::api::profile::GetProfile::PATH,
            crate::api::profile::RegenerateCliSecret::PATH,
        ] {
            assert!(path.starts_with(crate::api::SERVER_FN_PREFIX), "{path}");
        }
    }
}
