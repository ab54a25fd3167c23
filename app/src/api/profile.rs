//! The signed-in user's own account: who they are and, for accounts that
//! sign in through OIDC, the CLI secret registry clients use as a password.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub username: String,
    pub email: Option<String>,
    pub full_name: String,
    pub is_admin: bool,
    /// Present for OIDC accounts only.
    pub cli_secret: Option<String>,
}

#[server(prefix = "/portal/fn", endpoint = "profile")]
pub async fn get_profile() -> Result<Profile, AppError> {
    use crate::core::AppState;

    let user = crate::api::session::require_user().await?;
    let cli_secret = expect_context::<AppState>().auth.cli_secret(&user).await?;
    Ok(Profile {
        username: user.username.to_string(),
        email: user.email,
        full_name: user.full_name,
        is_admin: user.is_admin,
        cli_secret,
    })
}

/// Replaces the caller's CLI secret and returns the new one; the old one
/// stops working at once.
#[server(prefix = "/portal/fn", endpoint = "regenerate_cli_secret")]
pub async fn regenerate_cli_secret() -> Result<String, AppError> {
    use crate::core::AppState;

    let user = crate::api::session::require_user().await?;
    let client_addr = crate::api::session::client_addr().await;
    Ok(expect_context::<AppState>().auth.regenerate_cli_secret(&user, client_addr.as_deref()).await?)
}
