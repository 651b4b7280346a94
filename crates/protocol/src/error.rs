//! RFC 6749 §5.2 error responses. Every error leaves as JSON with `no-store`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_domain::{ErrorCode, OAuthError};
use latchkey_storage::StoreError;

/// An error on its way out: the OAuth error plus the `WWW-Authenticate` challenge, if any.
#[derive(Debug)]
pub struct ApiError {
    pub error: OAuthError,
    pub challenge: Option<String>,
}

impl ApiError {
    pub fn challenge(mut self, value: impl Into<String>) -> Self {
        self.challenge = Some(value.into());
        self
    }
}

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        ApiError {
            error,
            challenge: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::InvalidInput(m) = &e {
            return ApiError::from(OAuthError::invalid_request(m.clone()));
        }
        tracing::error!(error = %e, "store error");
        ApiError::from(OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the token store could not complete the request; retry shortly",
        ))
    }
}

pub use latchkey_domain::sanitize;

pub fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::telemetry::note_error(self.error.code.as_str(), self.error.check);
        let status = StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({
            "error": self.error.code.as_str(),
            "error_description": sanitize(&self.error.description),
        });
        let mut resp = (status, axum::Json(body)).into_response();
        no_store(&mut resp);
        if let Some(c) = self.challenge {
            if let Ok(v) = HeaderValue::from_str(&c) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

impl From<latchkey_application::Error> for ApiError {
    fn from(e: latchkey_application::Error) -> Self {
        match e {
            latchkey_application::Error::OAuth(e) => ApiError::from(e),
            latchkey_application::Error::Store(e) => ApiError::from(e),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
