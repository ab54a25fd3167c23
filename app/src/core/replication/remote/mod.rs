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

mod auth;
mod listing;

pub use listing::{ACCEPT_MANIFESTS, RemoteManifest};

use auth::{basic, bearer, challenge_of};

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
    /// Worth sending again at once (a token that expired mid-request).
    #[error("{registry}: {detail}")]
    Again { registry: String, detail: String },
}

impl RemoteError {
    /// Whether trying again later might work (the registry was away or busy).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::TimedOut { .. } | Self::Again { .. } => true,
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
        // Only the registry's own challenge is answered (not one a redirect target sent).
        if !same_origin(response.url(), &self.base) {
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
        Err(RemoteError::Again {
            registry: self.name().to_owned(),
            detail: format!("its token expired during {method} /{path}; sending again with a fresh one"),
        })
    }

    /// Sends, following redirects by hand: `Authorization` only to the
    /// registry's own origin.
    pub(super) async fn follow(
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
            let sent_body = body.is_some();
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
            match response.status() {
                StatusCode::SEE_OTHER => method = Method::GET,
                // Any other redirect asks for the same request again, body
                // included: a streamed body was sent once and cannot be sent
                // again, and sending none would store nothing.
                _ if sent_body => {
                    return Err(self.protocol(format!(
                        "it redirected {method} {} to {next}; a streamed body cannot be sent twice",
                        url.path()
                    )));
                }
                _ => {}
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
    pub(super) async fn error_text(&self, response: Response) -> String {
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

    pub(super) fn transport(&self, url: &Url, error: &reqwest::Error) -> RemoteError {
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

    /// What reading `what` failed with, as a remote error.
    pub(super) fn unreadable(&self, what: &str, error: ReadError) -> RemoteError {
        match error {
            ReadError::TooLong(limit) => self.protocol(format!("{what} is longer than {limit} bytes")),
            ReadError::Broken(cause) => {
                RemoteError::Unreachable { url: self.name().to_owned(), cause: format!("reading {what}: {cause}") }
            }
        }
    }

    pub(super) fn protocol(&self, detail: String) -> RemoteError {
        RemoteError::Protocol { registry: self.name().to_owned(), detail }
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// A response body, refused past `limit` bytes.
pub async fn read_limited(mut response: Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| ReadError::Broken(describe(&e)))? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLong(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why an answer could not be read whole.
#[derive(Debug)]
pub enum ReadError {
    /// Longer than the bound: asking again will not help.
    TooLong(usize),
    /// The connection broke or went silent mid-answer: it may work later.
    Broken(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let base = Url::parse("https://reg.example/").unwrap();
        assert!(same_origin(&Url::parse("https://reg.example:443/v2/").unwrap(), &base));
        assert!(!same_origin(&Url::parse("https://storage.example/blob").unwrap(), &base));
        assert!(!same_origin(&Url::parse("http://reg.example/v2/").unwrap(), &base));
        assert!(!same_origin(&Url::parse("https://reg.example:5000/v2/").unwrap(), &base));
    }
}
