//! The OCI error surface: every `/v2/` failure is one [`OciError`], which
//! knows its spec code and HTTP status and renders the spec's JSON body.
//! Internal failures are logged here with their detail and reach clients as a
//! bare `UNKNOWN` 500.

use app::core::registry;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::API_VERSION_HEADER;

/// What a 503 asks clients to wait before they try again.
pub const RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("blob unknown to registry")]
    BlobUnknown,
    #[error("blob upload invalid: {0}")]
    BlobUploadInvalid(String),
    #[error("blob upload unknown to registry")]
    BlobUploadUnknown,
    #[error("provided digest did not match uploaded content: {0}")]
    DigestInvalid(String),
    #[error("manifest unknown to registry")]
    ManifestUnknown,
    #[error("manifest unknown to registry: {0}")]
    ManifestNotAcceptable(String),
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    #[error("manifest references something this repository does not have: {0}")]
    ManifestBlobUnknown(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("invalid pagination: {0}")]
    PaginationInvalid(String),
    #[error("invalid repository name: {0}")]
    NameInvalid(String),
    #[error("repository name not known to registry")]
    NameUnknown,
    #[error("{0}")]
    ProjectUnknown(String),
    /// No or insufficient credentials; `challenge` is the `WWW-Authenticate` value.
    #[error("{message}")]
    Unauthorized { challenge: String, message: String },
    #[error("requested access to the resource is denied: {0}")]
    Denied(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Something the request depends on (the identity provider) is down.
    #[error("{0}")]
    Unavailable(String),
    #[error("chunk out of order: {0}")]
    RangeInvalid(String),
    #[error("requested range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("the operation is unsupported: {0}")]
    Unsupported(String),
    /// The store ran out of space (507): no code in the spec says so, and
    /// distribution's generic one travels with a message that does.
    #[error("{0}")]
    StorageFull(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl OciError {
    /// The spec's error code and the status it travels with.
    fn code_and_status(&self) -> (&'static str, StatusCode) {
        match self {
            Self::BlobUnknown => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            Self::BlobUploadInvalid(_) => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            Self::BlobUploadUnknown => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            Self::DigestInvalid(_) => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            Self::ManifestUnknown | Self::ManifestNotAcceptable(_) => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            Self::ManifestInvalid(_) => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            Self::ManifestBlobUnknown(_) => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            Self::TooLarge(_) => ("SIZE_INVALID", StatusCode::PAYLOAD_TOO_LARGE),
            Self::PaginationInvalid(_) => ("PAGINATION_NUMBER_INVALID", StatusCode::BAD_REQUEST),
            Self::NameInvalid(_) => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            Self::NameUnknown | Self::ProjectUnknown(_) => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            Self::Unauthorized { .. } => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            Self::Denied(_) => ("DENIED", StatusCode::FORBIDDEN),
            Self::TooManyRequests(_) => ("TOOMANYREQUESTS", StatusCode::TOO_MANY_REQUESTS),
            Self::Unavailable(_) => ("UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE),
            Self::RangeInvalid(_) => ("BLOB_UPLOAD_INVALID", StatusCode::RANGE_NOT_SATISFIABLE),
            Self::RangeNotSatisfiable { .. } => ("UNSUPPORTED", StatusCode::RANGE_NOT_SATISFIABLE),
            Self::Unsupported(_) => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            Self::StorageFull(_) => ("UNKNOWN", StatusCode::INSUFFICIENT_STORAGE),
            Self::Internal(_) => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errors: [ErrorEntry<'a>; 1],
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    code: &'a str,
    message: String,
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        let message = match &self {
            Self::Internal(source) => {
                tracing::error!(error = %source, "registry request failed");
                "internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody { errors: [ErrorEntry { code, message }] };
        let mut response = (status, [(API_VERSION_HEADER, "registry/2.0")], Json(body)).into_response();
        match self {
            Self::RangeNotSatisfiable { size } => {
                let value = HeaderValue::from_str(&format!("bytes */{size}")).expect("digits are a valid header value");
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            Self::Unavailable(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            Self::Unauthorized { challenge, .. } => {
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
            }
            _ => {}
        }
        response
    }
}

pub type OciResult<T> = Result<T, OciError>;

impl From<registry::Error> for OciError {
    fn from(error: registry::Error) -> Self {
        use registry::Error as E;
        match error {
            E::BlobUnknown => Self::BlobUnknown,
            E::ManifestUnknown => Self::ManifestUnknown,
            E::NameUnknown => Self::NameUnknown,
            e @ E::ProjectUnknown(_) => Self::ProjectUnknown(e.to_string()),
            E::ManifestInvalid(e) => Self::ManifestInvalid(e.to_string()),
            E::ManifestBlobUnknown(digest) => Self::ManifestBlobUnknown(digest.to_string()),
            e @ E::ManifestTooLarge { .. } => Self::TooLarge(e.to_string()),
            e @ E::NotAcceptable { .. } => Self::ManifestNotAcceptable(e.to_string()),
            E::UploadUnknown => Self::BlobUploadUnknown,
            e @ (E::QuotaExceeded { .. } | E::TagExists { .. } | E::Immutable(_) | E::ChangedMeanwhile) => {
                Self::Denied(e.to_string())
            }
            e @ E::OutOfOrder { .. } => Self::RangeInvalid(e.to_string()),
            e @ E::DigestMismatch { .. } => Self::DigestInvalid(e.to_string()),
            E::RangeNotSatisfiable { size, .. } => Self::RangeNotSatisfiable { size },
            e @ E::ClientAborted(_) => Self::BlobUploadInvalid(e.to_string()),
            e @ E::StorageFull => Self::StorageFull(e.to_string()),
            E::Internal(e) => e.into(),
        }
    }
}

impl From<app::core::Error> for OciError {
    fn from(error: app::core::Error) -> Self {
        use app::core::Error as E;
        match error {
            e @ E::IdentityProvider(_) => Self::Unavailable(e.to_string()),
            E::DatabaseUnavailable(source) => {
                tracing::warn!(error = %source, "a registry request found the database unavailable");
                Self::Unavailable(E::DatabaseUnavailable(source).to_string())
            }
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_the_spec_body() {
        let response = OciError::BlobUnknown.into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["errors"][0]["code"], "BLOB_UNKNOWN");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("blob unknown"));
    }

    #[tokio::test]
    async fn hides_internal_detail() {
        let error = OciError::internal(std::io::Error::other("disk /secret/path exploded"));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("secret"));
    }
}
