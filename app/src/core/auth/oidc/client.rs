//! The HTTP client the OpenID Connect library and the userinfo call use:
//! no redirects followed, bounded in time and in answer size, errors
//! described with their causes.

use std::{pin::Pin, time::Duration};

use axum::http::{self, HeaderValue, header};
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::OidcError;
use crate::core::settings::OidcSettings;

/// Provider answers are small JSON documents; anything bigger is refused.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) use crate::core::error::with_causes as describe;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The HTTP client the library calls: never follows redirects (the spec's
/// advice against SSRF through the provider), bounded in time and size.
pub(super) struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    pub(super) fn new(settings: &OidcSettings) -> Result<Self, OidcError> {
        // The HTTP client's TLS takes the process's crypto provider (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .tls_danger_accept_invalid_certs(!settings.verify_certificate)
            .build()
            .map_err(|e| OidcError::Settings(describe(&e)))?;
        Ok(Self { client })
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let response = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| HttpError(describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_bounded(response).await?;
        let mut answer = http::Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }

    /// The userinfo endpoint's JSON claims for the access token.
    pub(super) async fn userinfo(&self, url: url::Url, access_token: &str) -> Result<Map<String, Value>, OidcError> {
        let bearer = HeaderValue::from_str(&format!("Bearer {access_token}"))
            .map_err(|_| OidcError::UserInfo("the access token is not a header value".into()))?;
        let response = self
            .client
            .get(url)
            .header(header::AUTHORIZATION, bearer)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OidcError::UserInfo(describe(&e)))?;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let body = read_bounded(response).await.map_err(|e| OidcError::UserInfo(e.0))?;
        if !status.is_success() {
            return Err(OidcError::UserInfo(format!("answered {status}")));
        }
        if content_type.as_ref().is_some_and(|v| v.as_bytes().starts_with(b"application/jwt")) {
            return Err(OidcError::UserInfo("signed userinfo responses are not supported; ask for JSON".into()));
        }
        serde_json::from_slice(&body).map_err(|e| OidcError::UserInfo(format!("not a JSON object: {e}")))
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    // Boxed and `Send`: the sign-in runs inside axum handlers.
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| HttpError(describe(&e)))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(HttpError(format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
