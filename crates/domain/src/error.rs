//! RFC 6749 §5.2 errors as the domain reports them. The protocol layer turns these into
//! HTTP responses; the domain only decides which code applies and why.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    LoginRequired,
    ConsentRequired,
    AccessDenied,
    InvalidScope,
    InvalidToken,
    UnsupportedTokenType,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "invalid_request",
            ErrorCode::PayloadTooLarge => "invalid_request",
            ErrorCode::UnsupportedMediaType => "invalid_request",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status RFC 6749 (and our profile) gives this error by default.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An OAuth error with a description that names the exact check that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// Overrides the code's default status (e.g. invalid_client without credentials → 400).
    pub status: Option<u16>,
    /// The name of the check that failed (`grace_period_over`, …), for events and logs.
    pub check: Option<&'static str>,
    /// Keycloak's error string for the event this error is recorded by
    /// (`invalid_user_credentials`, …); the OAuth code's own when absent.
    pub event_error: Option<&'static str>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status: None,
            check: None,
            event_error: None,
        }
    }
    /// Names the check that failed.
    pub fn check(mut self, check: &'static str) -> Self {
        self.check = Some(check);
        self
    }
    /// Gives the Keycloak error string of this error's event.
    pub fn event_error(mut self, error: &'static str) -> Self {
        self.event_error = Some(error);
        self
    }
    /// Keycloak's error string for this error's event.
    pub fn event_error_str(&self) -> &'static str {
        self.event_error.unwrap_or_else(|| self.code.as_str())
    }
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
    pub fn status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.code.status())
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    pub fn server_error(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, d)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

/// Only %x20-21 / %x23-5B / %x5D-7E may appear in `error_description` (RFC 6749 §5.2).
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect()
}
