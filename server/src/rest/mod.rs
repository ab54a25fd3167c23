//! The REST API under `/api/v2.0/`, shaped like Harbor's where they overlap.

mod caller;
mod configurations;
mod error;
mod health;
mod projects;

use axum::{
    Router,
    routing::{get, post},
};

use app::core::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2.0/health", get(health::get_health))
        .route(
            "/api/v2.0/configurations",
            get(configurations::get_configurations).put(configurations::put_configurations),
        )
        .route("/api/v2.0/projects", post(projects::create_project))
}
