//! Talking to a remote registry over the distribution API: the one HTTP
//! client replication uses. Credentials go only to the registry's own
//! origin (and to a token service on the same host); redirects are
//! followed by hand, without the `Authorization` header when they leave
//! that origin (blob downloads sent to object storage); every request is
//! bounded in time; errors name the registry and what went wrong.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{
    Method, Response, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};
use url::Url;

use super::endpoints::Credential;
use crate::core::error::with_causes as describe;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may stay silent (also mid-body).
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a request that carries no blob may take from start to end.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;
/// Largest JSON answer (token, tag list, catalog page) read.
pub const MAX_JSON_BYTES: usize = 4 << 20;
/// Tokens a client keeps (one per scope).
const MAX_TOKENS: usize = 1024;

/// What went wrong talking to a remote registry, in words for a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot connect to {url}: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("{url} did not answer within {seconds} s")]
    TimedOut { url: String, seconds: u64 },
    #[error("{registry} refused the credentials: {detail}")]
    Unauthorized { registry: String, detail: String },
    #[error("{registry} does not allow this: {detail}")]
    Forbidden { registry: String, detail: String },
    #[error("{registry} has no {what}")]
    NotFound { registry: String, what: String },
    #[error("{registry} answered {status} to {method} {path}: {detail}")]
    Status { registry: String, status: u16, method: String, path: String, detail: String },
    #[error("{registry}: {detail}")]
    Protocol { registry: String, detail: String },
}

impl RemoteError {
    /// Whether trying again later might work (the registry was away or busy).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::TimedOut { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub type RemoteResult<T> = std::result::Result<T, RemoteError>;

/// A remote registry, with its credential and the tokens it handed out.
#[derive(Clone)]
pub struct Remote {
    client: reqwest::Client,
    base: Url,
    credential: Option<Credential>,
    tokens: Arc<Mutex<HashMap<String, (String, Instant)>>>,
    /// The registry asked for Basic credentials: sent with every request from then on.
    basic: Arc<AtomicBool>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// How to authenticate, as the registry's challenge said.
enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

impl Remote {
    /// A client for the registry at `url` (already normalised); with
    /// `insecure`, its TLS certificate is not checked.
    pub fn new(url: &str, credential: Option<Credential>, insecure: bool) -> RemoteResult<Self> {
        let base = Url::parse(&format!("{url}/"))
            .map_err(|e| RemoteError::Protocol { registry: url.to_owned(), detail: format!("bad URL: {e}") })?;
        // The HTTP client's TLS takes the process's crypto provider (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .tls_danger_accept_invalid_certs(insecure)
            .user_agent(concat!("berth-replication/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteError::Protocol { registry: url.to_owned(), detail: describe(&e) })?;
        Ok(Self { client, base, credential, tokens: Arc::default(), basic: Arc::default() })
    }

    /// The registry as log lines name it.
    pub fn name(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// "Test connection": the registry answers the distribution API's base
    /// endpoint with the credential (anonymously without one).
    pub async fn ping(&self) -> RemoteResult<()> {
        let response = self.send(Method::GET, "v2/", None, &HeaderMap::new(), None, Some(REQUEST_TIMEOUT)).await?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(self.refusal(status, "GET", "/v2/", response).await),
        }
    }

    /// Sends a request to `path` (relative to the registry's base) for the
    /// token `scope`, answering an authentication challenge once and
    /// following redirects. `body` is sent as is.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        scope: Option<&str>,
        headers: &HeaderMap,
        body: Option<reqwest::Body>,
        timeout: Option<Duration>,
    ) -> RemoteResult<Response> {
        let url = self.base.join(path).map_err(|e| self.protocol(format!("bad path {path}: {e}")))?;
        let scope_key = scope.unwrap_or_default().to_owned();
        let cached = self.cached_token(&scope_key);
        // A body can be sent once: without a token yet, ask first with a bodiless request.
        let authorization = match (cached, &self.credential, &body) {
            (Some(token), _, _) => Some(bearer(&token)?),
            (None, Some(credential), _) if self.basic.load(Ordering::Relaxed) => Some(basic(credential)?),
            (None, _, Some(_)) => self.authorize(scope).await?,
            (None, _, None) => None,
        };
        let had_body = body.is_some();
        let response = self.follow(method.clone(), url.clone(), headers, body, authorization.clone(), timeout).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = challenge_of(&response);
        let Some(authorization) = self.answer(challenge, scope).await? else {
            return Ok(response);
        };
        if !had_body {
            return self.follow(method, url, headers, None, Some(authorization), timeout).await;
        }
        // A request with a body was answered 401 although a token was held
        // (it expired): it cannot be sent again from here; the caller's
        // retry sends it with the fresh token.
        Ok(response)
    }

    /// The `Authorization` value for `scope`, asking the registry how it
    /// wants to be authenticated.
    async fn authorize(&self, scope: Option<&str>) -> RemoteResult<Option<HeaderValue>> {
        let url = self.base.join("v2/").map_err(|e| self.protocol(e.to_string()))?;
        let response = self.follow(Method::GET, url, &HeaderMap::new(), None, None, Some(REQUEST_TIMEOUT)).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        self.answer(challenge_of(&response), scope).await
    }

    async fn answer(&self, challenge: Option<Challenge>, scope: Option<&str>) -> RemoteResult<Option<HeaderValue>> {
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
            if let Some(scope) = scope {
                query.append_pair("scope", scope);
            }
        }
        let mut request = self.client.get(url.clone()).timeout(REQUEST_TIMEOUT);
        // The credential goes to a token service only on the registry's own host.
        if let Some(credential) = &self.credential
            && url.host_str() == self.base.host_str()
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
        let body = read_limited(response, MAX_JSON_BYTES).await.map_err(|e| self.protocol(e))?;
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

    fn cached_token(&self, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(scope).filter(|(_, until)| *until > Instant::now()).map(|(token, _)| token.clone())
    }

    fn keep_token(&self, scope: &str, token: &str, lifetime: Duration) {
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

    /// Sends, following redirects by hand: `Authorization` only to the
    /// registry's own origin.
    async fn follow(
        &self,
        method: Method,
        mut url: Url,
        headers: &HeaderMap,
        mut body: Option<reqwest::Body>,
        authorization: Option<HeaderValue>,
        timeout: Option<Duration>,
    ) -> RemoteResult<Response> {
        let mut method = method;
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.client.request(method.clone(), url.clone()).headers(headers.clone());
            if let Some(authorization) = &authorization
                && same_origin(&url, &self.base)
            {
                request = request.header(header::AUTHORIZATION, authorization.clone());
            }
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            if let Some(body) = body.take() {
                request = request.body(body);
            }
            let response = request.send().await.map_err(|e| self.transport(&url, &e))?;
            if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED {
                return Ok(response);
            }
            let Some(location) = response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()) else {
                return Ok(response);
            };
            let next = url.join(location).map_err(|e| self.protocol(format!("redirect to {location:?}: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(self.protocol(format!("redirect to {} is not http or https", next.scheme())));
            }
            if response.status() == StatusCode::SEE_OTHER {
                method = Method::GET;
            }
            url = next;
        }
        Err(self.protocol(format!("more than {MAX_REDIRECTS} redirects")))
    }

    /// The refusal a non-success answer stands for.
    pub async fn refusal(&self, status: StatusCode, method: &str, path: &str, response: Response) -> RemoteError {
        let detail = self.error_text(response).await;
        let registry = self.name().to_owned();
        match status {
            StatusCode::UNAUTHORIZED => RemoteError::Unauthorized { registry, detail },
            StatusCode::FORBIDDEN => RemoteError::Forbidden { registry, detail },
            _ => RemoteError::Status {
                registry,
                status: status.as_u16(),
                method: method.into(),
                path: path.into(),
                detail,
            },
        }
    }

    /// An error body's message: the distribution API's `errors[0].message`,
    /// else the start of the text.
    async fn error_text(&self, response: Response) -> String {
        let Ok(body) = read_limited(response, 64 << 10).await else {
            return "no readable answer".into();
        };
        #[derive(serde::Deserialize)]
        struct Errors {
            errors: Vec<ErrorEntry>,
        }
        #[derive(serde::Deserialize)]
        struct ErrorEntry {
            code: Option<String>,
            message: Option<String>,
        }
        if let Ok(errors) = serde_json::from_slice::<Errors>(&body)
            && let Some(first) = errors.errors.into_iter().next()
        {
            return [first.code, first.message].into_iter().flatten().collect::<Vec<_>>().join(": ");
        }
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        if text.is_empty() { "no message".into() } else { text.chars().take(200).collect() }
    }

    fn transport(&self, url: &Url, error: &reqwest::Error) -> RemoteError {
        let shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
            + &url.port().map(|p| format!(":{p}")).unwrap_or_default();
        if error.is_timeout() {
            return RemoteError::TimedOut {
                url: shown,
                seconds: READ_TIMEOUT.as_secs().min(REQUEST_TIMEOUT.as_secs()),
            };
        }
        RemoteError::Unreachable { url: shown, cause: describe(error) }
    }

    fn protocol(&self, detail: String) -> RemoteError {
        RemoteError::Protocol { registry: self.name().to_owned(), detail }
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

fn basic(credential: &Credential) -> RemoteResult<HeaderValue> {
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

fn bearer(token: &str) -> RemoteResult<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| RemoteError::Protocol {
        registry: String::new(),
        detail: "the token has bad characters".into(),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The challenge of a 401: `Basic …` or `Bearer realm="…",service="…"`.
fn challenge_of(response: &Response) -> Option<Challenge> {
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

/// A response body, refused past `limit` bytes.
pub async fn read_limited(mut response: Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("the answer is longer than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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

    #[test]
    fn origins() {
        let base = Url::parse("https://reg.example/").unwrap();
        assert!(same_origin(&Url::parse("https://reg.example:443/v2/").unwrap(), &base));
        assert!(!same_origin(&Url::parse("https://storage.example/blob").unwrap(), &base));
        assert!(!same_origin(&Url::parse("http://reg.example/v2/").unwrap(), &base));
        assert!(!same_origin(&Url::parse("https://reg.example:5000/v2/").unwrap(), &base));
    }
}
