//! Authentication: checking passwords, portal sessions and the first
//! administrator. Called by the portal's server functions and the HTTP edge;
//! calls the user and session repositories.

mod password;
mod sessions;

pub use password::PasswordHasherPool;
pub use sessions::SessionRepository;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use rand::{Rng, RngCore, distributions::Alphanumeric, rngs::OsRng};
use sha2::{Digest, Sha256};

use crate::core::{
    Error, Result,
    db::Db,
    users::{NewUser, User, UserRepository, Username},
};
use sessions::NewSession;

/// The account created on first start.
pub const ADMIN_USERNAME: &str = "admin";
/// Shortest and longest password the first administrator may be given.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=128;

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

/// What the first start did about the administrator account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// An `admin` account already existed; nothing changed.
    AlreadyPresent,
    /// Created with the configured password.
    Created,
    /// Created with this generated password, to be shown once.
    CreatedWithGeneratedPassword(String),
}

#[derive(Clone, Debug)]
pub struct AuthService {
    users: UserRepository,
    sessions: SessionRepository,
    hasher: PasswordHasherPool,
    session_ttl: Duration,
}

impl AuthService {
    pub fn new(db: Db, session_ttl: Duration) -> Self {
        Self {
            users: UserRepository::new(db.clone()),
            sessions: SessionRepository::new(db),
            hasher: PasswordHasherPool::default(),
            session_ttl,
        }
    }

    /// Lifetime of a portal session from sign-in.
    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// Checks a password sign-in and opens a session for it.
    pub async fn login(
        &self,
        username: &str,
        password: String,
        client_addr: Option<&str>,
    ) -> Result<(User, SessionToken)> {
        let user = self.verify_password(username, password).await?;
        let now = Utc::now();
        // Housekeeping rides along with sign-ins rather than needing a timer.
        self.sessions.delete_expired(now).await?;
        let token = SessionToken::generate();
        let expires_at = now + chrono::Duration::from_std(self.session_ttl).unwrap_or(chrono::Duration::hours(12));
        self.sessions
            .create(NewSession {
                token_hash: &token.hash(),
                user_id: user.id,
                created_at: now,
                expires_at,
                client_addr,
            })
            .await?;
        Ok((user, token))
    }

    /// The user a username/password pair belongs to. Unknown users cost the
    /// same hashing time as wrong passwords.
    pub async fn verify_password(&self, username: &str, password: String) -> Result<User> {
        let credentials = match Username::parse(username) {
            Ok(name) => self.users.find_credentials(&name).await?,
            Err(_) => None,
        };
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

    /// The signed-in user of a session cookie, if the session is live.
    pub async fn user_for_session(&self, token: &SessionToken) -> Result<Option<User>> {
        self.sessions.find_user(&token.hash(), Utc::now()).await
    }

    /// Ends a session server-side; the cookie is worthless afterwards.
    pub async fn logout(&self, token: &SessionToken) -> Result<()> {
        self.sessions.delete(&token.hash()).await
    }

    /// Creates the `admin` account on first start, with `password` or a
    /// generated one. Safe when several nodes start at once: only one creates it.
    pub async fn bootstrap_admin(&self, password: Option<String>) -> Result<AdminBootstrap> {
        let (password, generated) = match password {
            Some(password) => {
                validate_password("admin_password", &password)?;
                (password, false)
            }
            None => (generate_password(), true),
        };
        let username = Username::parse(ADMIN_USERNAME).expect("the admin username is valid");
        // Look first: on a restart the account exists and hashing would be wasted.
        if self.users.find_credentials(&username).await?.is_some() {
            return Ok(AdminBootstrap::AlreadyPresent);
        }
        let hash = self.hasher.hash(password.clone()).await?;
        let created = self
            .users
            .create_if_absent(
                NewUser {
                    username: &username,
                    email: None,
                    full_name: "System Administrator",
                    password_hash: Some(&hash),
                    is_admin: true,
                },
                Utc::now(),
            )
            .await?;
        Ok(match (created, generated) {
            (None, _) => AdminBootstrap::AlreadyPresent,
            (Some(_), false) => AdminBootstrap::Created,
            (Some(_), true) => AdminBootstrap::CreatedWithGeneratedPassword(password),
        })
    }
}

/// Refuses passwords outside [`PASSWORD_LENGTH`], naming `field`.
pub fn validate_password(field: &'static str, password: &str) -> Result<()> {
    let len = password.chars().count();
    if !PASSWORD_LENGTH.contains(&len) {
        return Err(Error::invalid(
            field,
            format!("must be between {} and {} characters long", PASSWORD_LENGTH.start(), PASSWORD_LENGTH.end()),
        ));
    }
    Ok(())
}

fn generate_password() -> String {
    OsRng.sample_iter(&Alphanumeric).take(24).map(char::from).collect()
}
