//! `GET /api/v2.0/health`, in Harbor's response shape so existing monitors
//! work: an overall status and one entry per component.

use axum::{Extension, Json, extract::State};
use serde::Serialize;

use app::core::{AppState, system::ComponentStatus};

use crate::render_pool::RenderPool;

#[derive(Serialize, utoipa::ToSchema)]
pub struct OverallHealth {
    status: &'static str,
    components: Vec<ComponentHealth>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ComponentHealth {
    name: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl ComponentHealth {
    fn new(name: &'static str, status: ComponentStatus) -> Self {
        match status {
            ComponentStatus::Healthy => Self { name, status: "healthy", error: None },
            ComponentStatus::Unhealthy(reason) => Self { name, status: "unhealthy", error: Some(reason) },
        }
    }
}

#[utoipa::path(get, path = "/api/v2.0/health", tag = "system", responses((status = 200, description = "Health of each component", body = OverallHealth)), security((), ("basic" = [])))]
/// Harbor answers 200 whatever the outcome; monitors read `status`.
pub async fn get_health(
    State(state): State<AppState>,
    Extension(renders): Extension<RenderPool>,
) -> Json<OverallHealth> {
    let report = state.system.health().await;
    let portal = renders.health();
    let status = if report.is_healthy() && portal == ComponentStatus::Healthy { "healthy" } else { "unhealthy" };
    Json(OverallHealth {
        status,
        components: vec![
            ComponentHealth::new("core", ComponentStatus::Healthy),
            ComponentHealth::new("database", report.database),
            ComponentHealth::new("storage", report.storage),
            ComponentHealth::new("portal", portal),
        ],
    })
}
