//! Signing in through OIDC, from the redirect to the provider to a portal
//! session: the in-flight sign-in is stored for the callback (on any node),
//! the callback must come back to the browser that started it, the user is
//! onboarded or refreshed from the provider's claims (groups synced,
//! administrators through the admin group) and given a CLI secret.

use std::time::Duration;

use chrono::Utc;

use super::{AuthService, SessionToken, oidc_logins::PendingLogin};
use crate::core::{
    Error, Result,
    events::{Caller, Operation},
    settings::{LoginSettings, OidcSettings},
    users::{ExternalUser, User, Username},
};

/// How long a user may take at the provider's login page.
const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);

/// Where to send the browser, and the `state` to remember in it.
#[derive(Debug)]
pub struct OidcRedirect {
    pub url: String,
    pub state: String,
}

/// What the provider's redirect back brought, and from where.
pub struct OidcCallback<'a> {
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub state: &'a str,
    /// The `state` the browser was given when it set off; a callback
    /// arriving in another browser (login CSRF) does not match it.
    pub browser_state: Option<&'a str>,
    pub client_addr: Option<&'a str>,
}

/// A finished OIDC sign-in.
pub struct OidcSession {
    pub user: User,
    pub token: SessionToken,
    /// The path the user was headed for when they signed in.
    pub next_path: String,
}

impl AuthService {
    /// The OIDC settings, when users sign in through OIDC.
    pub async fn oidc_settings(&self) -> Result<Option<OidcSettings>> {
        Ok(match self.settings.login().await? {
            LoginSettings::Oidc(settings) => Some(*settings),
            _ => None,
        })
    }

    /// Starts a sign-in: remembers what the callback will need and returns
    /// the provider's authorization URL. `next_path` must already be a path
    /// on this site.
    pub async fn begin_oidc_login(&self, redirect_uri: &str, next_path: &str) -> Result<OidcRedirect> {
        let settings = self.oidc_settings().await?.ok_or_else(oidc_off)?;
        let request = self
            .oidc
            .authorization_request(&settings, redirect_uri)
            .await
            .map_err(|e| Error::IdentityProvider(e.to_string()))?;
        let now = Utc::now();
        let pending = PendingLogin {
            nonce: request.nonce,
            pkce_verifier: request.pkce_verifier,
            next_path: next_path.to_owned(),
            expires_at: now + chrono::Duration::from_std(SIGN_IN_WINDOW).unwrap_or_default(),
        };
        self.pending_oidc.insert(&request.state, &pending, now).await?;
        Ok(OidcRedirect { url: request.url, state: request.state })
    }

    /// Finishes a sign-in the provider sent back: checks `state`, redeems
    /// the code, verifies the ID token, onboards the user and opens a session.
    /// Every outcome is audited.
    pub async fn finish_oidc_login(&self, callback: OidcCallback<'_>) -> Result<OidcSession> {
        let mut caller = Caller { actor: None, client_addr: callback.client_addr.map(str::to_owned) };
        let outcome = self.oidc_user(&callback, &mut caller).await;
        self.record_login(&caller, "oidc", outcome.as_ref().err()).await;
        let (user, next_path) = outcome?;
        let token = self.open_session(&user, callback.client_addr).await?;
        Ok(OidcSession { user, token, next_path })
    }

    async fn oidc_user(&self, callback: &OidcCallback<'_>, caller: &mut Caller) -> Result<(User, String)> {
        let settings = self.oidc_settings().await?.ok_or_else(oidc_off)?;
        if callback.browser_state != Some(callback.state) {
            return Err(Error::invalid("state", "this sign-in was started in another browser; start again"));
        }
        let pending = self
            .pending_oidc
            .take(callback.state)
            .await?
            .ok_or_else(|| Error::invalid("state", "unknown or already used; start the sign-in again"))?;
        if pending.expires_at <= Utc::now() {
            return Err(Error::invalid("state", "the sign-in took too long; start again"));
        }
        let identity = self
            .oidc
            .identify(&settings, callback.redirect_uri, callback.code, &pending.pkce_verifier, &pending.nonce)
            .await
            .map_err(|e| Error::IdentityProvider(e.to_string()))?;
        caller.actor = Some(identity.username.clone());
        let username = Username::parse(&identity.username).map_err(|message| {
            Error::IdentityProvider(format!("the provider's username {:?} {message}", identity.username))
        })?;
        // The issuer and subject identify the person; a username the
        // provider gives to someone else later must not open this account.
        let external_id = format!("{} {}", identity.issuer, identity.subject);
        if let Some(existing) = self.users.find_credentials(&username).await?
            && (existing.auth_source != "oidc" || existing.external_id.as_deref() != Some(external_id.as_str()))
        {
            return Err(Error::Conflict(format!(
                "an account named {username} already exists and is not this OIDC identity, so it cannot sign in here"
            )));
        }
        let is_admin = !settings.admin_group.is_empty() && identity.groups.contains(&settings.admin_group);
        let now = Utc::now();
        let id = self
            .users
            .upsert_external(
                ExternalUser {
                    username: &username,
                    email: identity.email.as_deref(),
                    full_name: &identity.full_name,
                    is_admin,
                    source: "oidc",
                    external_id: &external_id,
                },
                now,
            )
            .await?
            .ok_or_else(|| Error::Conflict(format!("an account named {username} exists and is not an OIDC account")))?;
        self.users.sync_groups(id, "oidc", &identity.groups, now).await?;
        self.cli_secrets.ensure(id, now).await?;
        let user = self.users.find(id).await?.ok_or_else(|| Error::NotFound(format!("user {username}")))?;
        Ok((user, pending.next_path))
    }

    /// The group id of the OIDC group with this name, for making it a
    /// project member. Providers cannot be asked which groups exist, so
    /// (as in Harbor) naming a group creates it; members join it when they
    /// next sign in with it in their groups claim.
    pub async fn oidc_group(&self, name: &str) -> Result<i64> {
        if self.oidc_settings().await?.is_none() {
            return Err(Error::invalid("group", "OIDC groups need the OIDC login mode"));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(Error::invalid("group", "must be a group name from the provider's groups claim"));
        }
        self.users.ensure_group("oidc", name, Utc::now()).await
    }

    /// The user's CLI secret (OIDC accounts only).
    pub async fn cli_secret(&self, user: &User) -> Result<Option<String>> {
        if !self.is_oidc_account(user).await? {
            return Ok(None);
        }
        self.cli_secrets.reveal(user.id).await
    }

    /// Replaces the user's CLI secret; the old one stops working at once.
    pub async fn regenerate_cli_secret(&self, user: &User, client_addr: Option<&str>) -> Result<String> {
        if !self.is_oidc_account(user).await? {
            return Err(Error::invalid("cli_secret", "only accounts that sign in through OIDC have a CLI secret"));
        }
        let secret = self.cli_secrets.regenerate(user.id, Utc::now()).await?;
        let caller = Caller { actor: Some(user.username.to_string()), client_addr: client_addr.map(str::to_owned) };
        self.audit_user(&caller, Operation::Update, user, Some("CLI secret regenerated")).await;
        Ok(secret)
    }

    async fn is_oidc_account(&self, user: &User) -> Result<bool> {
        Ok(self.users.find_credentials(&user.username).await?.is_some_and(|c| c.auth_source == "oidc"))
    }

    /// A registry client's username and CLI secret, in OIDC mode.
    pub(super) async fn check_cli_secret(&self, username: &str, secret: &str) -> Result<User> {
        match self.credentials(username).await? {
            Some(c) if c.auth_source == "oidc" && self.cli_secrets.matches(c.user.id, secret).await? => Ok(c.user),
            _ => Err(Error::InvalidCredentials),
        }
    }
}

fn oidc_off() -> Error {
    Error::Forbidden("users do not sign in through OIDC here".into())
}
