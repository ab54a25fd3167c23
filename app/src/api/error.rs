//! The one error type every server function returns. Internal failures are
//! logged on the server with their detail and reach the browser only as a
//! generic message.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Invalid username or password.")]
    InvalidCredentials,
    #[error("You are not signed in, or your session has expired.")]
    Unauthenticated,
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("The identity provider could not be asked: {0}")]
    IdentityProvider(String),
    #[error("Too many failed sign-ins. Try again in {0} minutes.")]
    Throttled(u64),
    #[error("You may not do this: {0}.")]
    Forbidden(String),
    #[error("{0} does not exist.")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("The database cannot be reached right now. Try again in a moment.")]
    Unavailable,
    #[error("Something went wrong on the server; the details are in its log.")]
    Internal,
    #[error("{0}")]
    ServerFn(ServerFnErrorErr),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::ServerFn(value)
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status the server function's response carries for this error.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::InvalidCredentials | Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::IdentityProvider(_) => StatusCode::BAD_GATEWAY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServerFn(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// Sets the response status of the server function being answered (when
    /// there is one) and hands the error back, so failures are not all 500s.
    pub fn respond(self) -> Self {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(self.status());
        }
        self
    }
}

#[cfg(feature = "ssr")]
impl From<crate::core::Error> for AppError {
    fn from(error: crate::core::Error) -> Self {
        use crate::core::Error as E;
        let error = match error {
            E::InvalidCredentials => Self::InvalidCredentials,
            E::Unauthenticated => Self::Unauthenticated,
            E::Invalid { field, message } => Self::Invalid { field: field.to_owned(), message },
            E::Forbidden(what) => Self::Forbidden(what),
            E::IdentityProvider(message) => Self::IdentityProvider(message),
            E::Throttled { retry_after } => Self::Throttled(retry_after.as_secs().div_ceil(60).max(1)),
            E::NotFound(what) => Self::NotFound(what),
            E::Conflict(message) | E::Immutable(message) => Self::Conflict(message),
            E::DatabaseUnavailable(source) => {
                tracing::warn!(error = %source, "a server function found the database unavailable");
                Self::Unavailable
            }
            internal => {
                tracing::error!(error = %internal, "server function failed");
                Self::Internal
            }
        };
        error.respond()
    }
}
