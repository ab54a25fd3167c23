//! The OCI distribution API under `/v2/`.

use axum::{http::HeaderName, response::IntoResponse, routing::get, Json, Router};

use app::core::AppState;

/// Tells clients this is a registry speaking the v2 API.
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("docker-distribution-api-version");

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/", get(check_api_version)).route("/v2", get(check_api_version))
}

/// distribution-spec "Determining support": `GET /v2/` answers 200 when the
/// registry implements the API.
async fn check_api_version() -> impl IntoResponse {
    ([(API_VERSION_HEADER, "registry/2.0")], Json(serde_json::json!({})))
}
