//! The management listener's routes, as Keycloak's port 9000 serves them: `/metrics` in
//! Prometheus's text format and the health checks. It listens apart from the public port
//! (by default on loopback only), so metrics never reach the clients of the realms.

use crate::endpoints::health;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health", get(health::ready))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state.telemetry.refresh_store_gauges(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.telemetry.encode(&state),
    )
        .into_response()
}
