//! OIDC login settings: which provider, which client, and which claims name
//! the user, their groups and the administrators.

use serde::{Deserialize, Serialize};

use crate::core::{Error, Result};

/// Most scopes Berth asks a provider for.
pub const MAX_SCOPES: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcSettings {
    /// Shown on the login button ("Sign in with …").
    pub provider_name: String,
    /// The issuer; its `/.well-known/openid-configuration` is discovered.
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// Requested scopes; `openid` is always among them. `offline_access`
    /// asks for the refresh token Berth needs to keep CLI secrets working
    /// past the ID token's expiry.
    pub scopes: Vec<String>,
    /// The claim holding the username, e.g. `preferred_username` or `email`.
    pub username_claim: String,
    /// The claim listing the user's groups (empty: groups are not read).
    pub groups_claim: String,
    /// Members of this group are system administrators.
    pub admin_group: String,
    /// Check the provider's certificate (leave on outside tests).
    pub verify_certificate: bool,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            provider_name: "OIDC".into(),
            issuer_url: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            scopes: vec!["openid".into(), "profile".into(), "email".into(), "offline_access".into()],
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            admin_group: String::new(),
            verify_certificate: true,
        }
    }
}

impl OidcSettings {
    /// Refuses a setting longer than [`super::MAX_SETTING`] and more than
    /// [`MAX_SCOPES`] scopes: what even settings only kept for later, or
    /// only checked, must fit.
    pub fn check_bounds(&self) -> Result<()> {
        if self.scopes.len() > MAX_SCOPES {
            return Err(Error::invalid("scopes", format!("at most {MAX_SCOPES} scopes")));
        }
        super::check_lengths(self.texts())
    }

    /// Every text setting, by field name (each scope as `scopes`).
    fn texts(&self) -> Vec<(&'static str, &str)> {
        let mut texts = vec![
            ("provider_name", self.provider_name.as_str()),
            ("issuer_url", &self.issuer_url),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("username_claim", &self.username_claim),
            ("groups_claim", &self.groups_claim),
            ("admin_group", &self.admin_group),
        ];
        texts.extend(self.scopes.iter().map(|scope| ("scopes", scope.as_str())));
        texts
    }

    /// Refuses settings that would send the saved client secret to another
    /// issuer than `saved`'s (another host, or another realm on the same
    /// host), or without checking its certificate, unless the caller sent
    /// the secret again (`secret_sent`).
    pub fn check_secret_destination(&self, saved: &OidcSettings, secret_sent: bool) -> Result<()> {
        use super::secret_destination::{check, issuer};
        let moved = issuer(&self.issuer_url) != issuer(&saved.issuer_url)
            || (saved.verify_certificate && !self.verify_certificate);
        check("client_secret", moved, &self.client_secret, &saved.client_secret, secret_sent)
    }

    /// Refuses settings that cannot work, naming the field.
    pub fn validate(&self) -> Result<()> {
        self.check_bounds()?;
        let issuer = url::Url::parse(&self.issuer_url)
            .map_err(|e| Error::invalid("issuer_url", format!("must be an absolute URL: {e}")))?;
        if !matches!(issuer.scheme(), "https" | "http") || issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(Error::invalid("issuer_url", "must be an http(s) URL without query or fragment"));
        }
        if self.client_id.trim().is_empty() {
            return Err(Error::invalid("client_id", "must name the client registered at the provider"));
        }
        if self.client_secret.is_empty() {
            return Err(Error::invalid("client_secret", "must be the client's secret at the provider"));
        }
        if !self.scopes.iter().any(|scope| scope == "openid") {
            return Err(Error::invalid("scopes", "must include openid"));
        }
        if let Some(bad) = self.scopes.iter().find(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace())) {
            return Err(Error::invalid("scopes", format!("{bad:?} is not a scope name")));
        }
        if self.username_claim.trim().is_empty() {
            return Err(Error::invalid("username_claim", "must name the claim holding the username"));
        }
        if self.provider_name.trim().is_empty() {
            return Err(Error::invalid("provider_name", "must not be empty"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> OidcSettings {
        OidcSettings {
            issuer_url: "https://id.example.com/realms/main".into(),
            client_id: "berth".into(),
            client_secret: "s3cret".into(),
            ..OidcSettings::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(valid().validate().is_ok());
        type Breakage = fn(&mut OidcSettings);
        let cases: [(&str, Breakage); 5] = [
            ("issuer_url", |s| s.issuer_url = "id.example.com".into()),
            ("client_id", |s| s.client_id = " ".into()),
            ("client_secret", |s| s.client_secret.clear()),
            ("scopes", |s| s.scopes = vec!["profile".into()]),
            ("username_claim", |s| s.username_claim.clear()),
        ];
        for (field, break_it) in cases {
            let mut settings = valid();
            break_it(&mut settings);
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(field), "{field}: {error}");
        }
    }
}
