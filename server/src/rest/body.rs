//! Request bodies: JSON, read whatever `Content-Type` says (Harbor's
//! clients do not all send one), refused in Harbor's error shape naming the
//! body's schema and what was wrong with it.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        serde_json::from_slice(&body).map(Self).map_err(|error| {
            // The schema's name as the OpenAPI document gives it: `RobotCreate`, `PasswordReq`.
            let schema = std::any::type_name::<T>().rsplit("::").next().unwrap_or("body");
            ApiError::bad_request(format!("invalid {schema}: {error}"))
        })
    }
}
