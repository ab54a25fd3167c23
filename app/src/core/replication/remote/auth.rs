//! Authenticating to a remote registry as its 401 challenge asks: Basic
//! with the saved credential, or a token from the token service the
//! challenge names (the credential goes there only on the registry's own
//! host). Tokens are kept per scope until shortly before they expire.

use std::{
    collections::HashMap,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use reqwest::{
    Method, Response, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};
use url::Url;

use super::{MAX_JSON_BYTES, REQUEST_TIMEOUT, Remote, RemoteError, RemoteResult, read_limited};
use crate::core::replication::endpoints::Credential;

/// Tokens a client keeps (one per scope).
const MAX_TOKENS: usize = 1024;

/// How to authenticate, as the registry's challenge said.
pub(super) enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

impl Remote {
    /// The `Authorization` value for `scope`, asking the registry how it
    /// wants to be authenticated.
    pub(super) async fn authorize(&self, scope: Option<&str>) -> RemoteResult<Option<HeaderValue>> {
        let url = self.base.join("v2/").map_err(|e| self.protocol(e.to_string()))?;
        let response = self.follow(Method::GET, url, &HeaderMap::new(), None, None, Some(REQUEST_TIMEOUT)).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        self.answer(challenge_of(&response), scope).await
    }

    pub(super) async fn answer(
        &self,
        challenge: Option<Challenge>,
        scope: Option<&str>,
    ) -> RemoteResult<Option<HeaderValue>> {
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => match &self.credential {
                Some(credential) => {
                    self.basic.store(true, Ordering::Relaxed);
                    Ok(Some(basic(credential)?))
                }
                None => Err(RemoteError::Unauthorized {
                    registry: self.name().to_owned(),
                    detail: "it asks for a username and password, and none is saved".into(),
                }),
            },
            Some(Challenge::Bearer { realm, service }) => {
                let token = self.fetch_token(&realm, service.as_deref(), scope).await?;
                Ok(Some(bearer(&token)?))
            }
        }
    }

    /// A registry token from the token service the challenge named.
    async fn fetch_token(&self, realm: &str, service: Option<&str>, scope: Option<&str>) -> RemoteResult<String> {
        let mut url = Url::parse(realm).map_err(|e| self.protocol(format!("token service {realm:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.protocol(format!("token service {realm} is not http or https")));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            // Several scopes (a push that mounts) go as several parameters.
            for scope in scope.iter().flat_map(|s| s.split(' ')).filter(|s| !s.is_empty()) {
                query.append_pair("scope", scope);
            }
        }
        let mut request = self.client.get(url.clone()).timeout(REQUEST_TIMEOUT);
        // The credential goes to a token service only on the registry's own
        // host, and never over plain HTTP when the registry is HTTPS.
        if let Some(credential) = &self.credential
            && url.host_str() == self.base.host_str()
            && (url.scheme() == "https" || self.base.scheme() == "http")
        {
            request = request.header(header::AUTHORIZATION, basic(credential)?);
        }
        let response = request.send().await.map_err(|e| self.transport(&url, &e))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let detail = self.error_text(response).await;
            return Err(RemoteError::Unauthorized { registry: self.name().to_owned(), detail });
        }
        if !status.is_success() {
            let detail = self.error_text(response).await;
            return Err(RemoteError::Status {
                registry: self.name().to_owned(),
                status: status.as_u16(),
                method: "GET".into(),
                path: url.path().to_owned(),
                detail,
            });
        }
        let body = read_limited(response, MAX_JSON_BYTES)
            .await
            .map_err(|e| self.unreadable("the token service's answer", e))?;
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| self.protocol(format!("the token service's answer: {e}")))?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.protocol("the token service gave no token".into()))?;
        // Kept a little less long than it lives; 60 s when the service does not say.
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(60).saturating_sub(10).max(1));
        self.keep_token(scope.unwrap_or_default(), &token, lifetime);
        Ok(token)
    }

    pub(super) fn cached_token(&self, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(scope).filter(|(_, until)| *until > Instant::now()).map(|(token, _)| token.clone())
    }

    pub(super) fn keep_token(&self, scope: &str, token: &str, lifetime: Duration) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= MAX_TOKENS {
            let now = Instant::now();
            tokens.retain(|_, (_, until)| *until > now);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(scope.to_owned(), (token.to_owned(), Instant::now() + lifetime));
    }
}

pub(super) fn basic(credential: &Credential) -> RemoteResult<HeaderValue> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credential.access_key, credential.access_secret));
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| RemoteError::Protocol {
        registry: String::new(),
        detail: "the credential cannot be sent in a header".into(),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

pub(super) fn bearer(token: &str) -> RemoteResult<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| RemoteError::Protocol {
        registry: String::new(),
        detail: "the token has bad characters".into(),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The challenge of a 401: `Basic …` or `Bearer realm="…",service="…"`.
pub(super) fn challenge_of(response: &Response) -> Option<Challenge> {
    let value = response.headers().get(header::WWW_AUTHENTICATE)?.to_str().ok()?;
    let (scheme, params) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = challenge_params(params);
    let realm = params.get("realm")?.clone();
    Some(Challenge::Bearer { realm, service: params.get("service").cloned() })
}

/// `key="value", key=value` pairs of a challenge.
fn challenge_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.trim().to_owned());
        rest = after.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read() {
        let params = challenge_params(r#"realm="https://h/service/token",service="harbor-registry",scope="a:b:c""#);
        assert_eq!(params["realm"], "https://h/service/token");
        assert_eq!(params["service"], "harbor-registry");
        assert_eq!(params["scope"], "a:b:c");
        let bare = challenge_params("realm=https://h/token, service=reg");
        assert_eq!(bare["realm"], "https://h/token");
        assert_eq!(bare["service"], "reg");
    }
}
