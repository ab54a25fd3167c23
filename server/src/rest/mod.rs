//! The REST API under `/api/v2.0/`, shaped like Harbor's where they overlap.

mod health;

use axum::{Router, routing::get};

use app::core::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v2.0/health", get(health::get_health))
}
