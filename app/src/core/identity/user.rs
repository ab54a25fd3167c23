//! Users as the rest of the core sees them: a validated username and the
//! account's flags, never the password hash.

use chrono::{DateTime, Utc};

/// A user's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct UserId(pub i64);

/// An account as the rest of the core sees it (never carries the password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<String>,
    pub full_name: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// A username that passed validation: 1–255 characters, no control characters,
/// none of the characters Harbor refuses (`, ~ # $ %`), no `:` (it would break
/// HTTP Basic credentials) and no surrounding whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("must not be empty");
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err("must be at most 255 characters");
        }
        if raw.trim() != raw {
            return Err("must not start or end with whitespace");
        }
        if raw.chars().any(|c| c.is_control() || matches!(c, ',' | '~' | '#' | '$' | '%' | ':')) {
            return Err("must not contain control characters or any of , ~ # $ % :");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an account signs in, and where a group comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthSource {
    /// A password kept by Berth.
    Database,
    /// An LDAP directory (accounts and groups are named by their DN).
    Ldap,
    /// An OpenID provider (accounts by issuer and subject, groups as its claim names them).
    Oidc,
}

impl AuthSource {
    /// The name stored in the database and shown in the APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthSource::Database => "database",
            AuthSource::Ldap => "ldap",
            AuthSource::Oidc => "oidc",
        }
    }
}

impl std::fmt::Display for AuthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a stored name back; another is a row written by something else.
impl TryFrom<String> for AuthSource {
    type Error = crate::core::Error;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        [AuthSource::Database, AuthSource::Ldap, AuthSource::Oidc]
            .into_iter()
            .find(|source| source.as_str() == name)
            .ok_or_else(|| crate::core::Error::corrupt(format!("unknown sign-in source {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn username_grammar() {
        for ok in ["admin", "alice.smith", "bob@example.com", "ünïcode", "a b"] {
            assert!(Username::parse(ok).is_ok(), "{ok} should be accepted");
        }
        let too_long = "x".repeat(256);
        for bad in ["", " admin", "admin ", "a,b", "a~b", "a#b", "a$b", "a%b", "a:b", "a\nb", too_long.as_str()] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Username::parse(&"x".repeat(255)).is_ok());
    }
}
