//! The core layer's error type. Callers at the HTTP edge map it to their own
//! responses; nothing here knows about status codes.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The username/password pair does not match an account. Deliberately says
    /// nothing about which half was wrong.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failed sign-ins for this account from this address.
    #[error("too many failed sign-ins; try again in {} seconds", retry_after.as_secs().max(1))]
    Throttled { retry_after: std::time::Duration },
    /// The request needs a signed-in user and has none (or an expired session).
    #[error("not signed in")]
    Unauthenticated,
    /// The signed-in principal may not do this.
    #[error("permission denied: {0}")]
    Forbidden(String),
    /// The thing named does not exist (e.g. "project `x`").
    #[error("{0} does not exist")]
    NotFound(String),
    /// The change would break a rule about what already exists (a taken
    /// name, a project that still has repositories).
    #[error("{0}")]
    Conflict(String),
    /// A project policy protects what the change would touch (an
    /// immutable tag); the message names the rule.
    #[error("{0}")]
    Immutable(String),
    /// A value supplied by the caller is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The database cannot be reached right now (stopped, restarting, out
    /// of connections): worth retrying, unlike the errors below. The
    /// detail stays in the source, out of what clients read.
    #[error("the database cannot be reached right now; try again shortly")]
    DatabaseUnavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("storage error: {0}")]
    Storage(#[from] crate::core::storage::Error),
    /// The LDAP directory or OIDC provider could not be asked or gave an
    /// unusable answer (as opposed to a wrong password).
    #[error("{0}")]
    IdentityProvider(String),
    #[error("signing keys: {0}")]
    Crypto(String),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// An error and its causes on one line (HTTP client errors hide the
/// cause: "error sending request" alone says nothing).
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        if crate::core::db::is_unavailable(&error) { Self::DatabaseUnavailable(error) } else { Self::Database(error) }
    }
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    /// Whether something the request depends on is down (the database, the
    /// identity provider): the edges answer 503, and a retry may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::DatabaseUnavailable(_) | Self::IdentityProvider(_))
    }

    /// A stored row that the code cannot read back: written by something
    /// else, worth failing loudly on.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::Database(sqlx::Error::Decode(message.into().into()))
    }
}
