//! Authentication: checking passwords (database, LDAP) and CLI secrets,
//! portal sessions and login throttling; accounts in [`accounts`], OIDC in
//! [`oidc`]. Called by the portal's server functions and the HTTP edge;
//! calls the user and session repositories.

mod cli_secrets;
mod keys;
pub mod ldap;
pub mod oidc;
mod oidc_sign_in;
mod oidc_tokens;
mod pending_logins;
mod sealing;
mod sessions;
mod throttle;
pub mod tokens;
mod verified;

pub use oidc_sign_in::{OidcCallback, OidcRedirect, OidcSession};
pub use pending_logins::cookie_name as oidc_login_cookie;
pub use sessions::SessionRepository;

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use rand::{RngCore, rngs::OsRng};
use sha2::{Digest, Sha256};

use crate::core::{
    Error, Result,
    access::require_system,
    db::Db,
    events::{AuditEvent, EventRecorder, Operation, ResourceType},
    identity::{Actor, AuthSource, User, Username},
    rbac::SystemAction,
    settings::{LdapSettings, LoginSettings, OidcSettings, SettingsService},
    users::{ADMIN_USERNAME, ExternalUser, PasswordHasherPool, UserCredentials, UserRepository},
};
use cli_secrets::CliSecrets;
use oidc::OidcProvider;
use oidc_tokens::OidcTokens;
pub use sealing::SealingKey;
use sessions::NewSession;
use throttle::LoginThrottle;
use verified::VerifiedPasswords;

/// Longest group an administrator may add: an LDAP DN or an OIDC group name.
pub const MAX_GROUP_NAME: usize = 512;

/// A session just opened: its cookie's value and how long it lasts (the
/// cookie's `Max-Age` and the stored expiry come from the same reading).
#[derive(Clone, Debug)]
pub struct OpenedSession {
    pub token: SessionToken,
    pub lifetime: Duration,
}

/// The opaque value of a session cookie. Only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn from_cookie(value: &str) -> Self {
        Self(value.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

#[derive(Clone, Debug)]
pub struct AuthService {
    users: UserRepository,
    sessions: SessionRepository,
    hasher: PasswordHasherPool,
    verified: Arc<VerifiedPasswords>,
    throttle: Arc<LoginThrottle>,
    session_ttl: Duration,
    events: EventRecorder,
    settings: SettingsService,
    oidc: Arc<OidcProvider>,
    sealing: SealingKey,
    cli_secrets: CliSecrets,
    oidc_tokens: OidcTokens,
    oidc_refresh: Arc<tokio::sync::Mutex<()>>,
}

impl AuthService {
    pub fn new(
        db: Db,
        hasher: PasswordHasherPool,
        session_ttl: Duration,
        events: EventRecorder,
        settings: SettingsService,
    ) -> Self {
        let sealing = SealingKey::new(db.clone());
        Self {
            users: UserRepository::new(db.clone()),
            sessions: SessionRepository::new(db.clone()),
            oidc_tokens: OidcTokens::new(db.clone()),
            oidc_refresh: Arc::default(),
            throttle: Arc::new(LoginThrottle::new(db.clone())),
            cli_secrets: CliSecrets::new(db, sealing.clone()),
            sealing,
            oidc: Arc::default(),
            hasher,
            verified: Arc::default(),
            session_ttl,
            events,
            settings,
        }
    }

    /// Lifetime of a portal session from sign-in.
    /// How long a portal session opened now lasts: as an administrator set
    /// it, else as the configuration says.
    pub async fn session_lifetime(&self) -> Result<Duration> {
        let set = self.settings.session_lifetime_minutes().await?;
        Ok(set.map_or(self.session_ttl, |minutes| Duration::from_secs(u64::from(minutes) * 60)))
    }

    /// Checks a password sign-in and opens a session for it.
    pub async fn login(
        &self,
        username: &str,
        password: String,
        client_addr: Option<&str>,
    ) -> Result<(User, OpenedSession)> {
        let user = match self.throttled(username, client_addr, self.verify_password(username, password)).await {
            Ok(user) => user,
            Err(error) => {
                self.record_login(Some(username), client_addr, "portal", Some(&error)).await;
                return Err(error);
            }
        };
        self.record_login(Some(username), client_addr, "portal", None).await;
        let session = self.open_session(&user, client_addr).await?;
        Ok((user, session))
    }

    /// A new portal session for a user who just signed in.
    async fn open_session(&self, user: &User, client_addr: Option<&str>) -> Result<OpenedSession> {
        let now = Utc::now();
        // Housekeeping rides along with sign-ins rather than needing a timer.
        self.sessions.delete_expired(now).await?;
        let token = SessionToken::generate();
        let lifetime = self.session_lifetime().await?;
        let expires_at = now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(12));
        self.sessions
            .create(NewSession {
                token_hash: &token.hash(),
                user_id: user.id,
                created_at: now,
                expires_at,
                client_addr,
            })
            .await?;
        Ok(OpenedSession { token, lifetime })
    }

    /// The user a username/password pair belongs to. Unknown users cost the
    /// same hashing time as wrong passwords.
    pub async fn verify_password(&self, username: &str, password: String) -> Result<User> {
        if self.uses_oidc(username).await? {
            return Err(Error::Forbidden(
                "users sign in through the OIDC provider here; use the button to sign in with it".into(),
            ));
        }
        if let Some(ldap) = self.ldap_settings_for(username).await? {
            return self.ldap_sign_in(&ldap, username, &password).await;
        }
        let credentials = self.credentials(username).await?;
        self.check(credentials, password).await
    }

    /// Checks credentials a registry client sent (Basic auth on `/v2` or at
    /// the token service). Like [`Self::verify_password`], but a pair that
    /// verified within the last minute against the same stored hash is not
    /// hashed again (a changed password invalidates it at once).
    pub async fn authenticate(&self, username: &str, password: String, client_addr: Option<&str>) -> Result<User> {
        self.throttled(username, client_addr, self.authenticate_unthrottled(username, password)).await
    }

    /// Refuses a name no account can have and a locked-out username/address
    /// pair before `check` runs (no lookup, no hashing), and counts
    /// `check`'s outcome. Every sign-in with a secret goes through here:
    /// passwords, CLI secrets and robot secrets.
    pub async fn throttled<T>(
        &self,
        username: &str,
        client_addr: Option<&str>,
        check: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        if sign_in_name_too_long(username) {
            return Err(Error::InvalidCredentials);
        }
        // Shared by every node (one indexed read): a lockout holds
        // whichever node the next attempt reaches.
        let standing = self.throttle.standing(username, client_addr).await?;
        if let Some(wait) = standing.locked_for {
            return Err(Error::Throttled { retry_after: wait });
        }
        let outcome = check.await;
        match &outcome {
            Ok(_) if standing.on_record => self.throttle.succeeded(username, client_addr).await?,
            Err(Error::InvalidCredentials) => self.throttle.failed(username, client_addr).await?,
            _ => {}
        }
        outcome
    }

    async fn authenticate_unthrottled(&self, username: &str, password: String) -> Result<User> {
        if self.uses_oidc(username).await? {
            return self.check_cli_secret(username, &password).await;
        }
        if let Some(ldap) = self.ldap_settings_for(username).await? {
            // Remembered like a password hash, tied to the directory it checked out against.
            let marker = format!("ldap {}", ldap.url);
            if let Some(c) = self.credentials(username).await?
                && c.auth_source == AuthSource::Ldap
                && self.verified.holds(username, &password, &marker)
            {
                return Ok(c.user);
            }
            let user = self.ldap_sign_in(&ldap, username, &password).await?;
            self.verified.insert(username, &password, &marker);
            return Ok(user);
        }
        let credentials = self.credentials(username).await?;
        let stored = credentials.as_ref().and_then(|c| c.password_hash.clone());
        if let (Some(c), Some(hash)) = (&credentials, &stored)
            && self.verified.holds(username, &password, hash)
        {
            return Ok(c.user.clone());
        }
        let user = self.check(credentials, password.clone()).await?;
        if let Some(hash) = &stored {
            self.verified.insert(username, &password, hash);
        }
        Ok(user)
    }

    /// Whether this user signs in through OIDC (and registry clients with a
    /// CLI secret). The first administrator never does.
    async fn uses_oidc(&self, username: &str) -> Result<bool> {
        Ok(username != ADMIN_USERNAME && matches!(self.settings.in_force().await?, LoginSettings::Oidc(_)))
    }

    /// The LDAP settings when users sign in through LDAP. The first
    /// administrator always uses its database password, so a broken
    /// directory never locks everyone out.
    async fn ldap_settings_for(&self, username: &str) -> Result<Option<LdapSettings>> {
        if username == ADMIN_USERNAME {
            return Ok(None);
        }
        Ok(match self.settings.in_force().await? {
            LoginSettings::Ldap(ldap) => Some(*ldap),
            LoginSettings::Database | LoginSettings::Oidc(_) => None,
        })
    }

    /// Search-then-bind against the directory; on success the account is
    /// created or refreshed (name, email, administrator through the admin
    /// group) and its LDAP group memberships replaced with the directory's.
    async fn ldap_sign_in(&self, settings: &LdapSettings, username: &str, password: &str) -> Result<User> {
        let found = ldap::authenticate(settings, username, password)
            .await
            .map_err(|e| Error::IdentityProvider(e.to_string()))?;
        let Some(entry) = found else {
            return Err(Error::InvalidCredentials);
        };
        let name = Username::parse(&entry.username).map_err(|message| {
            Error::IdentityProvider(format!("the directory's username {:?} {message}", entry.username))
        })?;
        let now = Utc::now();
        let external = ExternalUser {
            username: &name,
            email: entry.email.as_deref(),
            full_name: &entry.full_name,
            is_admin: entry.is_admin,
            source: AuthSource::Ldap,
            external_id: &entry.dn,
        };
        let groups: Vec<String> = entry.groups.into_iter().map(|group| group.dn).collect();
        let id = self.users.upsert_external(external, &groups, now).await?.ok_or_else(|| {
            Error::Conflict(format!("a database account named {name} exists, so {name} cannot sign in through LDAP"))
        })?;
        self.users.find(id).await?.ok_or_else(|| Error::NotFound(format!("user {name}")))
    }

    /// "Test connection": checks LDAP settings against the directory before
    /// they are saved (system administrators only).
    pub async fn test_ldap(&self, actor: &Actor, settings: &LdapSettings) -> Result<()> {
        require_system(actor, SystemAction::ManageSettings)?;
        settings.validate()?;
        ldap::test_connection(settings).await.map_err(|e| Error::IdentityProvider(e.to_string()))
    }

    /// An administrator adds a group (an LDAP group by its DN, found in the
    /// directory; an OIDC group by the name its groups claim gives) so it
    /// can be made a project member before any of its people signed in.
    /// Adding one that exists answers its id.
    pub async fn add_group(&self, actor: &Actor, kind: AuthSource, name: &str) -> Result<i64> {
        require_system(actor, SystemAction::ManageGroups)?;
        if name.chars().count() > MAX_GROUP_NAME {
            return Err(Error::invalid("group", format!("must be at most {MAX_GROUP_NAME} characters")));
        }
        let name = match kind {
            AuthSource::Ldap => self.ldap_group_dn(name).await?,
            AuthSource::Oidc => self.oidc_group_name(name).await?,
            AuthSource::Database => return Err(Error::invalid("group_type", "groups come from LDAP or OIDC")),
        };
        let mut event = AuditEvent::new(Operation::Create, ResourceType::User, format!("group:{name}"), actor);
        event.detail = Some(kind.to_string());
        self.users.add_group(kind, &name, Utc::now(), &event).await
    }

    /// "Check endpoint": whether the OIDC issuer in `settings` can be
    /// discovered, before they are saved (system administrators only).
    pub async fn check_oidc(&self, actor: &Actor, settings: &OidcSettings) -> Result<String> {
        require_system(actor, SystemAction::ManageSettings)?;
        settings.check_bounds()?;
        self.oidc.check(settings).await.map_err(|e| Error::IdentityProvider(e.to_string()))
    }

    /// The group id of the LDAP group with this DN, after checking the
    /// directory has it: what adding a group as a project member needs.
    pub async fn ldap_group(&self, dn: &str) -> Result<i64> {
        let dn = self.ldap_group_dn(dn).await?;
        self.users.ensure_group(AuthSource::Ldap, &dn, Utc::now()).await
    }

    /// The DN of the directory's group `dn` names (as the directory spells it).
    async fn ldap_group_dn(&self, dn: &str) -> Result<String> {
        let LoginSettings::Ldap(settings) = self.settings.in_force().await? else {
            return Err(Error::invalid("group", "LDAP groups need the LDAP login mode"));
        };
        let group = ldap::find_group(&settings, dn).await.map_err(|e| Error::IdentityProvider(e.to_string()))?;
        Ok(group.ok_or_else(|| Error::NotFound(format!("LDAP group {dn}")))?.dn)
    }

    async fn credentials(&self, username: &str) -> Result<Option<UserCredentials>> {
        match Username::parse(username) {
            Ok(name) => self.users.find_credentials(&name).await,
            Err(_) => Ok(None),
        }
    }

    async fn check(&self, credentials: Option<UserCredentials>, password: String) -> Result<User> {
        let (user, stored) = match credentials {
            Some(c) => (Some(c.user), c.password_hash),
            None => (None, None),
        };
        let matches = self.hasher.verify(password, stored).await?;
        match user {
            Some(user) if matches => Ok(user),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// Records a sign-in in the audit log: through the portal, `docker login`
    /// (the token service) or Basic credentials on `/v2`; `failure` says why
    /// it was refused.
    /// `username` is the name the sign-in gave (`None` when it never said).
    pub async fn record_login(
        &self,
        username: Option<&str>,
        client_addr: Option<&str>,
        through: &str,
        failure: Option<&Error>,
    ) {
        let resource = username.unwrap_or_default();
        let event = AuditEvent::named(Operation::Login, ResourceType::Session, resource, username, client_addr);
        let event = match failure {
            None => AuditEvent { detail: Some(through.to_owned()), ..event },
            Some(error) => event.failed(format!("{through}: {error}")),
        };
        self.events.record(event).await;
    }

    /// The signed-in user of a session cookie, if the session is live.
    pub async fn user_for_session(&self, token: &SessionToken) -> Result<Option<User>> {
        self.sessions.find_user(&token.hash(), Utc::now()).await
    }

    /// Ends a session server-side; the cookie is worthless afterwards.
    pub async fn logout(&self, token: &SessionToken) -> Result<()> {
        self.sessions.delete(&token.hash()).await
    }
}

/// Longest robot login name: `robot$`, a project name, `+`, a robot name.
const MAX_ROBOT_NAME: usize = crate::core::identity::ROBOT_PREFIX.len() + 2 * Username::MAX_LEN + 1;

/// Whether `username` is longer than any account's name can be (255
/// characters; robots' `robot$<project>+<name>` longer): such sign-ins are
/// refused before anything is looked up, counted or stored.
pub fn sign_in_name_too_long(username: &str) -> bool {
    let limit =
        if username.starts_with(crate::core::identity::ROBOT_PREFIX) { MAX_ROBOT_NAME } else { Username::MAX_LEN };
    // Bytes bound characters from above: most names need no count.
    username.len() > limit && username.chars().count() > limit
}
