//! Talking to an OpenID Connect provider: issuer discovery, the
//! authorization-code flow with PKCE, `state` and `nonce`, the ID token
//! verified against the provider's published keys (signature, issuer,
//! audience, expiry, nonce, `at_hash`), and the claims Berth needs read from
//! it, or from the userinfo endpoint when the ID token leaves them out.
//! Knows nothing of accounts or sessions.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, JwsSigningAlgorithm, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse},
};
use serde_json::{Map, Value};

mod client;

use client::{HttpClient, describe};

use crate::core::settings::OidcSettings;

/// How long discovered metadata (endpoints and signing keys) is reused.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// How long a refreshed sign-in counts when the provider does not say.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the OIDC provider could not be reached or discovered: {0}")]
    Discovery(String),
    #[error("the OIDC provider refused the authorization code: {0}")]
    CodeExchange(String),
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error("the userinfo endpoint failed: {0}")]
    UserInfo(String),
    #[error("the provider's answer has no usable {0:?} claim")]
    MissingClaim(String),
    #[error("the OIDC settings do not work: {0}")]
    Settings(String),
    /// The provider no longer honours the user's refresh token (signed out,
    /// removed, or the grant expired).
    #[error("the OIDC provider no longer vouches for this user: {0}")]
    Refused(String),
}

/// What Berth keeps of a sign-in to ask the provider again later.
pub struct ProviderTokens {
    pub refresh_token: Option<String>,
    /// When the provider's word (the ID token) runs out.
    pub valid_until: DateTime<Utc>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

/// Where to send the browser, and what the callback needs to finish.
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A user as the provider vouches for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIdentity {
    pub issuer: String,
    pub subject: String,
    pub username: String,
    pub email: Option<String>,
    pub full_name: String,
    pub groups: Vec<String>,
}

/// What discovery yields once endpoints are known: an authorization
/// endpoint always, token and userinfo endpoints if the provider has them.
type DiscoveredClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

#[derive(Default)]
pub struct OidcProvider {
    metadata: Mutex<Option<CachedMetadata>>,
}

struct CachedMetadata {
    issuer: String,
    fetched: Instant,
    metadata: CoreProviderMetadata,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider").finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// "Check endpoint": discovers the issuer afresh (with these settings'
    /// certificate checks) and says what it found. What it finds is not
    /// kept: sign-ins use only what the saved settings discover.
    pub async fn check(&self, settings: &OidcSettings) -> Result<String, OidcError> {
        let metadata = discover(settings, &HttpClient::new(settings)?).await?;
        let token = metadata.token_endpoint().map_or("no token endpoint".to_owned(), |url| url.to_string());
        Ok(format!(
            "{} answered: authorization at {}, tokens at {}",
            metadata.issuer().as_str(),
            metadata.authorization_endpoint().as_str(),
            token,
        ))
    }

    /// The provider's authorization URL for a new sign-in, with fresh
    /// `state`, `nonce` and PKCE (S256) challenge.
    pub async fn authorization_request(
        &self,
        settings: &OidcSettings,
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, OidcError> {
        let http = HttpClient::new(settings)?;
        let metadata = self.metadata(settings, &http, false).await?;
        let client = client(metadata, settings, Some(redirect_uri))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        // `openid` is always sent by the library.
        for scope in settings.scopes.iter().filter(|scope| *scope != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the authorization code (with the PKCE verifier), verifies the
    /// ID token against `nonce` and reads who the user is.
    pub async fn identify(
        &self,
        settings: &OidcSettings,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<(OidcIdentity, ProviderTokens), OidcError> {
        let http = HttpClient::new(settings)?;
        let client = client(self.metadata(settings, &http, false).await?, settings, Some(redirect_uri))?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Settings(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::CodeExchange(describe(&e)))?;
        if response.id_token().is_none() {
            return Err(OidcError::IdToken("the token response has no id_token".into()));
        }
        let nonce = Nonce::new(nonce.to_owned());
        self.read_identity(settings, &http, client, &response, Some(&nonce), None).await
    }

    /// Asks the provider, with the refresh token from an earlier sign-in,
    /// whether `subject` is still someone it vouches for, and who they are
    /// now (groups and administrators may have changed).
    pub async fn refresh(
        &self,
        settings: &OidcSettings,
        refresh_token: &str,
        subject: &str,
    ) -> Result<(OidcIdentity, ProviderTokens), OidcError> {
        let http = HttpClient::new(settings)?;
        let client = client(self.metadata(settings, &http, false).await?, settings, None)?;
        let refresh_token = RefreshToken::new(refresh_token.to_owned());
        let response = client
            .exchange_refresh_token(&refresh_token)
            .map_err(|e| OidcError::Settings(e.to_string()))?
            .request_async(&http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(refusal) => OidcError::Refused(refusal.to_string()),
                other => OidcError::CodeExchange(describe(&other)),
            })?;
        let (identity, mut tokens) =
            self.read_identity(settings, &http, client, &response, None, Some(subject)).await?;
        // Providers that do not rotate refresh tokens keep honouring the old one.
        tokens.refresh_token = tokens.refresh_token.or_else(|| Some(refresh_token.into_secret()));
        Ok((identity, tokens))
    }

    /// Verifies the ID token of a token response (if it has one; a refresh
    /// response may not), then reads the configured claims from it and,
    /// where it leaves them out, from the userinfo endpoint.
    async fn read_identity(
        &self,
        settings: &OidcSettings,
        http: &HttpClient,
        client: DiscoveredClient,
        response: &CoreTokenResponse,
        nonce: Option<&Nonce>,
        expected_subject: Option<&str>,
    ) -> Result<(OidcIdentity, ProviderTokens), OidcError> {
        let userinfo_url = client.user_info_url().map(|url| url.url().clone());
        let mut all = Map::new();
        let mut from_id_token = None;
        if let Some(id_token) = response.id_token() {
            // A refreshed ID token carries the original nonce or none.
            let check_nonce = |found: Option<&Nonce>| match (nonce, found) {
                (Some(expected), Some(found)) if expected.secret() == found.secret() => Ok(()),
                (Some(_), _) => Err("the nonce does not match this sign-in".to_owned()),
                (None, _) => Ok(()),
            };
            let first_try = id_token.claims(&client.id_token_verifier(), check_nonce).cloned();
            let (client, claims) = match first_try {
                Ok(claims) => (client, claims),
                // The provider may have rotated its keys since discovery:
                // fetch them again once before refusing the token.
                Err(ClaimsVerificationError::SignatureVerification(_)) => {
                    let refreshed = self::client(self.metadata(settings, http, true).await?, settings, None)?;
                    let claims = id_token
                        .claims(&refreshed.id_token_verifier(), check_nonce)
                        .cloned()
                        .map_err(|e| OidcError::IdToken(describe(&e)))?;
                    (refreshed, claims)
                }
                Err(error) => return Err(OidcError::IdToken(describe(&error))),
            };
            let algorithm = id_token.signing_alg().map_err(|e| OidcError::IdToken(describe(&e)))?;
            // With HMAC-signed tokens there is no public key to hash with;
            // the library has already checked the MAC with the client secret.
            if let Some(expected) = claims.access_token_hash()
                && !algorithm.uses_shared_secret()
            {
                let verifier = client.id_token_verifier();
                let key = id_token.signing_key(&verifier).map_err(|e| OidcError::IdToken(describe(&e)))?;
                let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
                    .map_err(|e| OidcError::IdToken(describe(&e)))?;
                if actual != *expected {
                    return Err(OidcError::IdToken("at_hash does not match the access token".into()));
                }
            }
            // The verified token's payload, for claims the library does not model.
            all = jwt_payload(&id_token.to_string())?;
            from_id_token = Some((claims.issuer().to_string(), claims.subject().to_string(), claims.expiration()));
        }
        let (issuer, subject, valid_until) = match from_id_token {
            Some(found) => found,
            None => {
                let lifetime = response.expires_in().unwrap_or(DEFAULT_TOKEN_LIFETIME);
                let subject = expected_subject.unwrap_or_default().to_owned();
                (
                    settings.issuer_url.clone(),
                    subject,
                    Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or_default(),
                )
            }
        };
        if let Some(expected) = expected_subject
            && subject != expected
        {
            return Err(OidcError::IdToken("the provider answered for another subject".into()));
        }
        let wanted =
            [settings.username_claim.as_str(), settings.groups_claim.as_str(), "email", "email_verified", "name"];
        let missing = wanted.iter().any(|claim| !claim.is_empty() && !all.contains_key(*claim));
        if missing && let Some(url) = userinfo_url {
            match http.userinfo(url, response.access_token().secret()).await {
                Ok(info) if info.get("sub").and_then(Value::as_str) == Some(subject.as_str()) => {
                    for (claim, value) in info {
                        all.entry(claim).or_insert(value);
                    }
                }
                Ok(_) => return Err(OidcError::UserInfo("it describes another subject than the ID token".into())),
                // Only fatal if what is missing cannot be done without.
                Err(error) if all.contains_key(&settings.username_claim) => {
                    tracing::warn!(%error, "OIDC userinfo failed; using the ID token's claims alone");
                }
                Err(error) => return Err(error),
            }
        }
        let identity = identity(settings, issuer, subject, &all)?;
        let tokens =
            ProviderTokens { refresh_token: response.refresh_token().map(|t| t.secret().clone()), valid_until };
        Ok((identity, tokens))
    }

    /// The provider's metadata and keys, from the cache unless stale,
    /// `refresh`ed, or for another issuer.
    async fn metadata(
        &self,
        settings: &OidcSettings,
        http: &HttpClient,
        refresh: bool,
    ) -> Result<CoreProviderMetadata, OidcError> {
        if !refresh
            && let Some(cached) = &*self.metadata.lock().unwrap_or_else(|e| e.into_inner())
            && cached.issuer == settings.issuer_url
            && cached.fetched.elapsed() < METADATA_TTL
        {
            return Ok(cached.metadata.clone());
        }
        let metadata = discover(settings, http).await?;
        *self.metadata.lock().unwrap_or_else(|e| e.into_inner()) = Some(CachedMetadata {
            issuer: settings.issuer_url.clone(),
            fetched: Instant::now(),
            metadata: metadata.clone(),
        });
        Ok(metadata)
    }
}

/// The issuer's `/.well-known/openid-configuration` and signing keys, fetched now.
async fn discover(settings: &OidcSettings, http: &HttpClient) -> Result<CoreProviderMetadata, OidcError> {
    let issuer = IssuerUrl::new(settings.issuer_url.clone()).map_err(|e| OidcError::Settings(e.to_string()))?;
    CoreProviderMetadata::discover_async(issuer, http).await.map_err(|e| OidcError::Discovery(describe(&e)))
}

fn client(
    metadata: CoreProviderMetadata,
    settings: &OidcSettings,
    redirect_uri: Option<&str>,
) -> Result<DiscoveredClient, OidcError> {
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    );
    Ok(match redirect_uri {
        Some(uri) => {
            client.set_redirect_uri(RedirectUrl::new(uri.to_owned()).map_err(|e| OidcError::Settings(e.to_string()))?)
        }
        None => client,
    })
}

/// The claims Berth keeps, read with the configured claim names.
fn identity(
    settings: &OidcSettings,
    issuer: String,
    subject: String,
    claims: &Map<String, Value>,
) -> Result<OidcIdentity, OidcError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let username =
        text(&settings.username_claim).ok_or_else(|| OidcError::MissingClaim(settings.username_claim.clone()))?;
    // An address the provider has not verified may be anyone's: as a
    // username it would let a stranger claim the account first.
    let verified =
        matches!(claims.get("email_verified"), Some(Value::Bool(true))) || text("email_verified") == Some("true");
    if settings.username_claim == "email" && !verified {
        return Err(OidcError::MissingClaim("email_verified".into()));
    }
    let groups = match claims.get(&settings.groups_claim) {
        _ if settings.groups_claim.is_empty() => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Ok(OidcIdentity {
        issuer,
        subject,
        username: username.to_owned(),
        email: text("email").map(str::to_owned),
        full_name: text("name").unwrap_or(username).to_owned(),
        groups,
    })
}

/// The payload of a compact JWS, as JSON. Only called on a verified token.
fn jwt_payload(token: &str) -> Result<Map<String, Value>, OidcError> {
    let payload = token.split('.').nth(1).ok_or_else(|| OidcError::IdToken("not a compact JWT".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| OidcError::IdToken(format!("payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| OidcError::IdToken(format!("payload is not a JSON object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn reads_configured_claims() {
        let settings =
            OidcSettings { username_claim: "email".into(), groups_claim: "roles".into(), ..Default::default() };
        // An unverified address is nobody's username.
        let unverified = identity(
            &settings,
            "https://id".into(),
            "sub-1".into(),
            &claims(serde_json::json!({"email": "ann@example.com", "email_verified": false})),
        );
        assert!(matches!(unverified, Err(OidcError::MissingClaim(claim)) if claim == "email_verified"));
        let found = identity(
            &settings,
            "https://id".into(),
            "sub-1".into(),
            &claims(serde_json::json!({
                "email": "ann@example.com", "email_verified": true, "roles": ["dev", 7, "ops"], "name": "Ann"
            })),
        )
        .unwrap();
        assert_eq!(found.username, "ann@example.com");
        assert_eq!(found.groups, ["dev", "ops"]);
        assert_eq!(found.full_name, "Ann");

        let single = identity(
            &settings,
            "https://id".into(),
            "sub-1".into(),
            &claims(serde_json::json!({"email": "bo@example.com", "email_verified": "true", "roles": "admins"})),
        )
        .unwrap();
        assert_eq!(single.groups, ["admins"]);
        assert_eq!(single.full_name, "bo@example.com");

        let missing = identity(&settings, "i".into(), "s".into(), &claims(serde_json::json!({"email": " "})));
        assert!(matches!(missing, Err(OidcError::MissingClaim(claim)) if claim == "email"));
    }

    #[test]
    fn decodes_a_jwt_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"x","groups":["a"]}"#);
        let found = jwt_payload(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(found["sub"], "x");
        assert!(jwt_payload("nodots").is_err());
    }
}
