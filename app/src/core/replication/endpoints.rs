//! Remote registries replication copies to and from (Harbor's "registry
//! endpoints"): what one is, and the checks a name, URL and credential
//! pass before they are stored. The secret is sealed with the nodes'
//! shared key and bound to the URL it was given for, so it can only ever
//! be sent to that registry.

use chrono::{DateTime, Utc};
use url::Url;

use crate::core::{Error, Result};

/// Longest registry name.
pub const MAX_NAME: usize = 128;
/// Longest URL, access key, secret and description.
pub const MAX_URL: usize = 512;
pub const MAX_ACCESS_KEY: usize = 256;
pub const MAX_SECRET: usize = 4096;
pub const MAX_DESCRIPTION: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type, serde::Serialize)]
#[sqlx(transparent)]
pub struct EndpointId(pub i64);

/// What kind of registry it is: both speak the distribution API and the
/// docker token flow; `harbor` (Harbor or another Berth) also has the
/// project REST API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryKind {
    Harbor,
    DockerRegistry,
}

impl RegistryKind {
    pub const ALL: [RegistryKind; 2] = [RegistryKind::DockerRegistry, RegistryKind::Harbor];

    /// Harbor's adapter name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Harbor => "harbor",
            Self::DockerRegistry => "docker-registry",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or_else(|| {
            Error::invalid("type", format!("{text:?} is not a registry type here (harbor or docker-registry)"))
        })
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Harbor => "Harbor or Berth: the distribution API with projects",
            Self::DockerRegistry => "A registry of the distribution API (distribution, zot and the like)",
        }
    }
}

/// Whether the registry answered its last check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "healthy" => Ok(Self::Healthy),
            "unhealthy" => Ok(Self::Unhealthy),
            other => Err(Error::corrupt(format!("registry status {other:?}"))),
        }
    }
}

/// A stored registry, as anyone who manages replication may read it: the
/// secret itself is never part of it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: EndpointId,
    pub name: String,
    pub kind: RegistryKind,
    pub url: String,
    pub access_key: Option<String>,
    pub has_secret: bool,
    pub insecure: bool,
    pub description: String,
    pub status: Health,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A username (or robot name) and its password (or secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub access_secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

impl Credential {
    /// A credential from what a form or request gave; none without a key.
    pub fn given(access_key: Option<&str>, access_secret: Option<&str>) -> Result<Option<Self>> {
        let key = access_key.map(str::trim).unwrap_or_default();
        if key.is_empty() {
            return Ok(None);
        }
        bounded("access_key", key, MAX_ACCESS_KEY)?;
        let secret = access_secret.unwrap_or_default();
        bounded("access_secret", secret, MAX_SECRET)?;
        Ok(Some(Self { access_key: key.to_owned(), access_secret: secret.to_owned() }))
    }
}

/// A registry to add.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub name: String,
    pub kind: RegistryKind,
    pub url: String,
    pub credential: Option<Credential>,
    pub insecure: bool,
    pub description: String,
}

/// What changes in a registry; `None` leaves a field alone. A new URL
/// without a new secret drops the stored secret (it was given for the old
/// one), as in Harbor.
#[derive(Clone, Debug, Default)]
pub struct EndpointChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub access_key: Option<String>,
    pub access_secret: Option<String>,
    pub insecure: Option<bool>,
}

pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "a registry needs a name"));
    }
    bounded("name", name, MAX_NAME)?;
    if name.chars().any(char::is_control) {
        return Err(Error::invalid("name", "no control characters"));
    }
    Ok(name.to_owned())
}

pub fn check_description(description: &str) -> Result<String> {
    bounded("description", description, MAX_DESCRIPTION)?;
    Ok(description.to_owned())
}

/// The registry's base URL as stored: `http` or `https` only (a bare host
/// is taken as `https://`), no credentials, query or fragment, no
/// trailing slash.
pub fn normalise_url(url: &str) -> Result<String> {
    let url = url.trim();
    bounded("url", url, MAX_URL)?;
    if url.is_empty() {
        return Err(Error::invalid("url", "a registry needs a URL"));
    }
    let with_scheme = if url.contains("://") { url.to_owned() } else { format!("https://{url}") };
    let parsed = Url::parse(&with_scheme).map_err(|e| Error::invalid("url", format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid("url", format!("{} is not http or https", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid("url", "the URL names no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::invalid("url", "put the username and password in the credential, not the URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::invalid("url", "the URL takes no query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// What a secret is sealed for: the registry's URL, so a secret never
/// opens for another destination.
pub fn sealing_context(url: &str) -> String {
    format!("replication registry secret for {url}")
}

fn bounded(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("at most {max} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised_and_bounded() {
        assert_eq!(normalise_url("registry.example:5000/").unwrap(), "https://registry.example:5000");
        assert_eq!(normalise_url(" http://127.0.0.1:5000 ").unwrap(), "http://127.0.0.1:5000");
        assert_eq!(normalise_url("https://h/prefix/").unwrap(), "https://h/prefix");
        assert!(normalise_url("ftp://h").is_err());
        assert!(normalise_url("file:///etc/passwd").is_err());
        assert!(normalise_url("https://user:pw@h").is_err());
        assert!(normalise_url("https://h/?q=1").is_err());
        assert!(normalise_url("").is_err());
        let longest = format!("https://h/{}", "a".repeat(MAX_URL - 10));
        assert!(normalise_url(&longest).is_ok());
        assert!(normalise_url(&format!("{longest}a")).is_err());
    }

    #[test]
    fn credentials_need_a_key_and_stay_in_bounds() {
        assert_eq!(Credential::given(None, Some("pw")).unwrap(), None);
        assert_eq!(Credential::given(Some("  "), Some("pw")).unwrap(), None);
        let given = Credential::given(Some("robot$ci"), Some("s3cret")).unwrap().unwrap();
        assert_eq!(given.access_key, "robot$ci");
        assert!(!format!("{given:?}").contains("s3cret"), "a secret never reaches a log line");
        assert!(Credential::given(Some("k"), Some(&"x".repeat(MAX_SECRET + 1))).is_err());
        assert!(Credential::given(Some(&"k".repeat(MAX_ACCESS_KEY + 1)), None).is_err());
    }

    #[test]
    fn names_and_kinds() {
        assert_eq!(check_name("  peer ").unwrap(), "peer");
        assert!(check_name("").is_err());
        assert!(check_name(&"n".repeat(MAX_NAME + 1)).is_err());
        assert!(check_name(&"n".repeat(MAX_NAME)).is_ok());
        assert_eq!(RegistryKind::parse("docker-registry").unwrap(), RegistryKind::DockerRegistry);
        assert!(RegistryKind::parse("docker-hub").is_err());
    }
}
