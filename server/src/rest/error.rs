//! Errors of the REST API, in Harbor's body shape
//! (`{"errors":[{"code":"…","message":"…"}]}`), mapped from the core's
//! errors in one place.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use app::core::Error;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// Harbor's code for each status.
    fn code(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "BAD_REQUEST",
            StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
            StatusCode::FORBIDDEN => "FORBIDDEN",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::CONFLICT => "CONFLICT",
            StatusCode::PRECONDITION_FAILED => "PRECONDITION",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            StatusCode::TOO_MANY_REQUESTS => "TOO_MANY_REQUESTS",
            StatusCode::SERVICE_UNAVAILABLE => "SERVICE_UNAVAILABLE",
            _ => "UNKNOWN",
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::InvalidCredentials | Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Immutable(_) => StatusCode::PRECONDITION_FAILED,
            Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::IdentityProvider(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::DatabaseUnavailable(source) => {
                tracing::warn!(error = %source, "a REST request found the database unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => {
                tracing::error!(%error, "REST request failed");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the details are in the server log",
                );
            }
        };
        Self::new(status, error.to_string())
    }
}

/// Harbor's error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Errors {
    errors: Vec<ErrorItem>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorItem {
    /// `BAD_REQUEST`, `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`, `CONFLICT`, `PRECONDITION`, …
    code: String,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(Errors { errors: vec![ErrorItem { code: self.code().to_owned(), message: self.message }] });
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // Harbor's API takes Basic credentials; say so, as it does.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"harbor\""));
        }
        response
    }
}
