//! The admin REST API under `/admin/realms`, in Keycloak's representations and status codes.
//! Callers present a bearer access token whose user's roles allow the request (see `auth` and
//! `latchkey_domain::admin_access`). Every change is recorded as an audit event and takes
//! effect at once.

pub mod auth;
pub mod clients;
pub mod events;
pub mod groups;
pub mod keys;
pub mod model;
pub mod model_routes;
pub mod openapi;
pub mod paths;
pub mod realms;
pub mod role_mappings;
pub mod roles;
pub mod routes;
pub mod scope_mappings;
pub mod scopes;
pub mod sessions;
pub mod shared;
pub mod users;

use crate::error::sanitize;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_storage::StoreError;
use serde_json::json;

/// An admin API error: Keycloak's `{"error": …, "errorMessage": …}` shape.
#[derive(Debug)]
pub struct AdminError {
    pub status: StatusCode,
    pub message: String,
}

impl AdminError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AdminError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, m)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AdminError::conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => AdminError::not_found(format!("{what} not found")),
            StoreError::InvalidInput(m) => AdminError::bad_request(m),
            other => {
                tracing::error!(error = %other, "admin store error");
                AdminError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store could not complete the request; retry shortly",
                )
            }
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let code = match self.status.as_u16() {
            400 => "invalid_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            _ => "server_error",
        };
        crate::telemetry::note_error(code, None);
        let msg = sanitize(&self.message);
        let mut r = (
            self.status,
            axum::Json(json!({"error": code, "errorMessage": msg})),
        )
            .into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// 201 Created with a `Location` ending in the new resource's id.
pub fn created(location: String) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Parses a JSON body into `T`, naming the field that is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> AdminResult<T> {
    // serde would also accept a struct written as an array; representations are objects.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AdminError::bad_request(
            "body: expected a JSON object (a representation)",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let whole = path == "." || path == "?" || e.inner().is_syntax() || e.inner().is_eof();
        let field = if whole {
            "body".to_string()
        } else {
            format!("field '{path}'")
        };
        AdminError::bad_request(format!("{field}: {}", e.inner()))
    })?;
    de.end()
        .map_err(|e| AdminError::bad_request(format!("body: {e}")))?;
    Ok(v)
}

/// Keycloak's PUT is a partial update: fields present in `patch` replace those of `current`.
pub fn merge(current: serde_json::Value, patch: serde_json::Value) -> serde_json::Value {
    match (current, patch) {
        (serde_json::Value::Object(mut c), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if !v.is_null() {
                    c.insert(k, v);
                }
            }
            serde_json::Value::Object(c)
        }
        (_, p) => p,
    }
}
