//! `/api/v2.0/projects` in Harbor's shapes. Creating a project: any
//! signed-in user (unless an administrator restricted it), who becomes its
//! project admin; the same project service the portal and `/v2` use decides.

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    caller::Caller,
    error::{ApiError, ApiResult},
};
use app::core::AppState;

/// Harbor's `ProjectReq`. Fields Berth does not implement are refused
/// rather than silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectReq {
    project_name: String,
    /// Deprecated in Harbor in favour of `metadata.public`, still sent by some clients.
    public: Option<bool>,
    metadata: Option<Map<String, Value>>,
    /// `-1` (no limit) is all Berth takes until quotas exist.
    storage_limit: Option<i64>,
    /// Proxy-cache projects are not supported.
    registry_id: Option<i64>,
}

pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let request: ProjectReq =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid project request: {e}")))?;
    if request.storage_limit.is_some_and(|limit| limit != -1) {
        return Err(ApiError::bad_request(
            "storage_limit: storage quotas are not supported yet; send -1 or leave it out",
        ));
    }
    if request.registry_id.is_some() {
        return Err(ApiError::bad_request("registry_id: proxy-cache projects are not supported"));
    }
    let mut public = request.public.unwrap_or(false);
    for (key, value) in request.metadata.unwrap_or_default() {
        match (key.as_str(), value.as_str()) {
            ("public", Some(flag @ ("true" | "false"))) => public = flag == "true",
            ("public", _) => return Err(ApiError::bad_request("metadata.public: must be \"true\" or \"false\"")),
            _ => return Err(ApiError::bad_request(format!("metadata.{key}: not a project setting Berth knows"))),
        }
    }
    let project = state.projects.create(&actor, &request.project_name, public).await?;
    let location =
        HeaderValue::from_str(&format!("/api/v2.0/projects/{}", project.id.0)).expect("a number makes a header value");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}
