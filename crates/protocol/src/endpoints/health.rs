//! `/health/live` and `/health/ready`, as Keycloak answers them.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

pub async fn live() -> Response {
    axum::Json(json!({"status": "UP", "checks": []})).into_response()
}

pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() && state.store.ping().await.is_ok() {
        axum::Json(json!({"status": "UP", "checks": []})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "DOWN", "checks": []})),
        )
            .into_response()
    }
}
