//! Signing in through OIDC, from the redirect to the provider to a portal
//! session: the sign-in in flight travels sealed in a cookie of the browser
//! that started it; the callback is checked against it; the account is found
//! by the provider's issuer and subject (or created on the first sign-in),
//! refreshed from its claims (groups synced, administrators through the
//! admin group) and given a CLI secret. The CLI secret works only while the
//! provider still vouches for its owner: past the ID token's expiry Berth
//! asks again with the refresh token, and a provider that says no (the user
//! was removed or signed out) ends the secret's use until the next sign-in.

use std::time::Duration;

use chrono::Utc;

use super::{
    AuthService, SessionToken,
    oidc::{OidcError, OidcIdentity, ProviderTokens},
    oidc_tokens::{ProviderSaid, StoredTokens},
    pending_logins::{PendingLogin, cookie_name},
};
use crate::core::{
    Error, Result,
    events::Operation,
    identity::{Actor, AuthSource, Principal, User, UserId, Username},
    settings::{LoginSettings, OidcSettings},
    users::{ExternalUser, user_event, validate_chosen_secret},
};

/// How long a user may take at the provider's login page.
const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);

/// Where to send the browser, and the cookie that carries the sign-in.
#[derive(Debug)]
pub struct OidcRedirect {
    pub url: String,
    pub cookie_name: String,
    pub cookie_value: String,
}

/// What the provider's redirect back brought, and from where.
pub struct OidcCallback<'a> {
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub state: &'a str,
    /// The value of the cookie named for `state` ([`super::oidc_login_cookie`]),
    /// if the browser has it: a callback arriving in another browser does not.
    pub sealed_login: Option<&'a str>,
    pub client_addr: Option<&'a str>,
}

/// A finished OIDC sign-in.
pub struct OidcSession {
    pub user: User,
    pub token: SessionToken,
    /// How long the session lasts.
    pub lifetime: std::time::Duration,
    /// The path the user was headed for when they signed in.
    pub next_path: String,
}

impl AuthService {
    /// The OIDC settings, when users sign in through OIDC.
    pub(crate) async fn oidc_settings(&self) -> Result<Option<OidcSettings>> {
        Ok(match self.settings.in_force().await? {
            LoginSettings::Oidc(settings) => Some(*settings),
            _ => None,
        })
    }

    /// Starts a sign-in: seals what the callback will need into a cookie
    /// value and returns the provider's authorization URL. `next_path` must
    /// already be a path on this site.
    pub async fn begin_oidc_login(&self, redirect_uri: &str, next_path: &str) -> Result<OidcRedirect> {
        let settings = self.oidc_settings().await?.ok_or_else(oidc_off)?;
        let request = self.oidc.authorization_request(&settings, redirect_uri).await.map_err(provider_error)?;
        let pending = PendingLogin {
            state: request.state,
            nonce: request.nonce,
            pkce_verifier: request.pkce_verifier,
            next_path: next_path.to_owned(),
            expires_at: Utc::now() + chrono::Duration::from_std(SIGN_IN_WINDOW).unwrap_or_default(),
        };
        Ok(OidcRedirect {
            url: request.url,
            cookie_name: cookie_name(&pending.state),
            cookie_value: pending.seal(&self.sealing).await?,
        })
    }

    /// Finishes a sign-in the provider sent back: checks `state`, redeems
    /// the code, verifies the ID token, onboards the user and opens a session.
    /// Every outcome is audited.
    pub async fn finish_oidc_login(&self, callback: OidcCallback<'_>) -> Result<OidcSession> {
        let mut username = None;
        let outcome = self.oidc_user(&callback, &mut username).await;
        self.record_login(username.as_deref(), callback.client_addr, "oidc", outcome.as_ref().err()).await;
        let (user, next_path) = outcome?;
        let session = self.open_session(&user, callback.client_addr).await?;
        Ok(OidcSession { user, token: session.token, lifetime: session.lifetime, next_path })
    }

    /// The user the callback signs in; `username` learns who as soon as the provider says.
    async fn oidc_user(&self, callback: &OidcCallback<'_>, username: &mut Option<String>) -> Result<(User, String)> {
        let settings = self.oidc_settings().await?.ok_or_else(oidc_off)?;
        let pending = match callback.sealed_login {
            Some(value) => PendingLogin::open(value, &self.sealing).await?,
            None => None,
        };
        let pending = pending
            .filter(|pending| pending.state == callback.state)
            .ok_or_else(|| Error::invalid("state", "this sign-in was not started in this browser; start again"))?;
        if pending.expires_at <= Utc::now() {
            return Err(Error::invalid("state", "the sign-in took too long; start again"));
        }
        let (identity, tokens) = self
            .oidc
            .identify(&settings, callback.redirect_uri, callback.code, &pending.pkce_verifier, &pending.nonce)
            .await
            .map_err(provider_error)?;
        *username = Some(identity.username.clone());
        let external_id = format!("{} {}", identity.issuer, identity.subject);
        let id = match self.users.find_external(AuthSource::Oidc, &external_id).await? {
            Some(id) => id,
            None => self.onboard(&identity, &external_id, &settings).await?,
        };
        self.apply_identity(id, &identity, &tokens, &settings).await?;
        self.cli_secrets.ensure(id, Utc::now()).await?;
        let user = self.users.find(id).await?.ok_or_else(|| Error::NotFound(format!("user {}", identity.username)))?;
        *username = Some(user.username.to_string());
        Ok((user, pending.next_path))
    }

    /// Creates the account of an identity signing in for the first time,
    /// under the provider's username, unless that name is taken.
    async fn onboard(&self, identity: &OidcIdentity, external_id: &str, settings: &OidcSettings) -> Result<UserId> {
        let username = Username::parse(&identity.username).map_err(|message| {
            Error::IdentityProvider(format!("the provider's username {:?} {message}", identity.username))
        })?;
        let account = ExternalUser {
            username: &username,
            email: identity.email.as_deref(),
            full_name: &identity.full_name,
            is_admin: is_admin(identity, settings),
            source: AuthSource::Oidc,
            external_id,
        };
        self.users.insert_external(account, Utc::now()).await?.ok_or_else(|| {
            Error::Conflict(format!(
                "an account named {username} already exists and is not this OIDC identity, so it cannot sign in here"
            ))
        })
    }

    /// Brings an account up to date with what the provider says now, and
    /// keeps the provider's tokens for checking CLI secrets later.
    async fn apply_identity(
        &self,
        id: UserId,
        identity: &OidcIdentity,
        tokens: &ProviderTokens,
        settings: &OidcSettings,
    ) -> Result<()> {
        let sealed_refresh_token = match &tokens.refresh_token {
            Some(token) => Some(self.sealing.seal(&refresh_context(id), token.as_bytes()).await?),
            None => None,
        };
        let stored = StoredTokens { sealed_refresh_token, valid_until: tokens.valid_until };
        let said = ProviderSaid {
            email: identity.email.as_deref(),
            full_name: &identity.full_name,
            is_admin: is_admin(identity, settings),
            groups: &identity.groups,
        };
        self.oidc_tokens.apply(id, &said, &stored, Utc::now()).await
    }

    /// The group id of the OIDC group with this name, for making it a
    /// project member. Providers cannot be asked which groups exist, so
    /// (as in Harbor) naming a group creates it; members join it when they
    /// next sign in with it in their groups claim.
    pub async fn oidc_group(&self, name: &str) -> Result<i64> {
        let name = self.oidc_group_name(name).await?;
        self.users.ensure_group(AuthSource::Oidc, &name, Utc::now()).await
    }

    /// `name` as an OIDC group's name, while users sign in through OIDC.
    pub(super) async fn oidc_group_name(&self, name: &str) -> Result<String> {
        if self.oidc_settings().await?.is_none() {
            return Err(Error::invalid("group", "OIDC groups need the OIDC login mode"));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(Error::invalid("group", "must be a group name from the provider's groups claim"));
        }
        Ok(name.to_owned())
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
            return Err(Error::Conflict("only accounts that sign in through OIDC have a CLI secret".into()));
        }
        let owner = Actor { principal: Principal::User(user.clone()), client_addr: client_addr.map(str::to_owned) };
        let event = user_event(&owner, Operation::Update, &user.username, Some("CLI secret regenerated"));
        self.cli_secrets.regenerate(user.id, Utc::now(), Some(&event)).await
    }

    /// Sets the user's CLI secret to one of their choosing (Harbor's rules:
    /// 8–128 characters with an upper-case letter, a lower-case letter and
    /// a digit); the old one stops working at once.
    pub async fn set_cli_secret(&self, user: &User, secret: &str, client_addr: Option<&str>) -> Result<()> {
        if !self.is_oidc_account(user).await? {
            return Err(Error::Conflict("only accounts that sign in through OIDC have a CLI secret".into()));
        }
        validate_chosen_secret("secret", secret)?;
        let owner = Actor { principal: Principal::User(user.clone()), client_addr: client_addr.map(str::to_owned) };
        let event = user_event(&owner, Operation::Update, &user.username, Some("CLI secret set"));
        self.cli_secrets.store(user.id, secret, Utc::now(), Some(&event)).await
    }

    async fn is_oidc_account(&self, user: &User) -> Result<bool> {
        Ok(self.users.find_credentials(&user.username).await?.is_some_and(|c| c.auth_source == AuthSource::Oidc))
    }

    /// A registry client's username and CLI secret, in OIDC mode: the
    /// secret must match and the provider must still vouch for its owner.
    pub(super) async fn check_cli_secret(&self, username: &str, secret: &str) -> Result<User> {
        let Some(account) = self.credentials(username).await? else {
            return Err(Error::InvalidCredentials);
        };
        if account.auth_source != AuthSource::Oidc || !self.cli_secrets.matches(account.user.id, secret).await? {
            return Err(Error::InvalidCredentials);
        }
        self.provider_still_vouches(account.user, account.external_id.as_deref()).await
    }

    /// The user as the provider describes them now: at once while their
    /// last ID token holds, else after asking again with the refresh token.
    async fn provider_still_vouches(&self, user: User, external_id: Option<&str>) -> Result<User> {
        if self.oidc_tokens.find(user.id).await?.is_some_and(|t| t.valid_until > Utc::now()) {
            return Ok(user);
        }
        // One refresh at a time: providers that rotate refresh tokens treat
        // a token used twice as stolen.
        let _guard = self.oidc_refresh.lock().await;
        let Some(stored) = self.oidc_tokens.find(user.id).await? else {
            return Err(sign_in_again(&user, "no OIDC sign-in on record"));
        };
        if stored.valid_until > Utc::now() {
            return Ok(user);
        }
        let refresh_token = match &stored.sealed_refresh_token {
            Some(sealed) => self.sealing.open(&refresh_context(user.id), sealed).await?,
            None => None,
        };
        let Some(refresh_token) = refresh_token.and_then(|bytes| String::from_utf8(bytes).ok()) else {
            return Err(sign_in_again(&user, "the provider gave no refresh token"));
        };
        let settings = self.oidc_settings().await?.ok_or_else(oidc_off)?;
        let subject = external_id.and_then(|id| id.split_once(' ')).map(|(_, subject)| subject).unwrap_or_default();
        let (identity, tokens) = match self.oidc.refresh(&settings, &refresh_token, subject).await {
            Ok(refreshed) => refreshed,
            Err(OidcError::Refused(reason)) => return Err(sign_in_again(&user, &reason)),
            Err(other) => return Err(provider_error(other)),
        };
        self.apply_identity(user.id, &identity, &tokens, &settings).await?;
        self.users.find(user.id).await?.ok_or(Error::InvalidCredentials)
    }
}

fn is_admin(identity: &OidcIdentity, settings: &OidcSettings) -> bool {
    !settings.admin_group.is_empty() && identity.groups.contains(&settings.admin_group)
}

fn refresh_context(user: UserId) -> String {
    format!("OIDC refresh token of user {}", user.0)
}

/// Refuses a CLI secret whose owner must sign in through the portal first.
fn sign_in_again(user: &User, reason: &str) -> Error {
    tracing::info!(user = %user.username, reason, "CLI secret refused until the user signs in through OIDC again");
    Error::InvalidCredentials
}

fn provider_error(error: OidcError) -> Error {
    Error::IdentityProvider(error.to_string())
}

fn oidc_off() -> Error {
    Error::Forbidden("users do not sign in through OIDC here".into())
}
