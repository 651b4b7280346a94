//! The gateway's own answers, in Kong's shapes: `{"message": …}` JSON with Kong's wording, and
//! `WWW-Authenticate` on 401 and 403 as Kong's openid-connect plugin writes it.

use crate::body::ProxyBody;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

pub const JSON: &str = "application/json; charset=utf-8";

/// `{"message": message}` with `status`.
pub fn message(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut r = Response::new(ProxyBody::from_bytes(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

pub fn no_route() -> Response<ProxyBody> {
    message(StatusCode::NOT_FOUND, "no Route matched with those values")
}

pub fn payload_too_large() -> Response<ProxyBody> {
    message(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large")
}

pub fn bad_request() -> Response<ProxyBody> {
    message(StatusCode::BAD_REQUEST, "Bad request")
}

/// Why a request was refused by the plugin, for the log and (with `display_errors`) the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// 401: no credential found, or one presented and refused (`presented`).
    Unauthorized { reason: String, presented: bool },
    /// 403: authenticated, but a required scope, audience, role or group is missing.
    Forbidden { reason: String },
}

/// What the plugin answers when a request is denied.
pub struct DenialStyle<'a> {
    /// The `realm` of `WWW-Authenticate`: the issuer's host.
    pub realm: &'a str,
    pub unauthorized_message: &'a str,
    pub forbidden_message: &'a str,
    pub display_errors: bool,
    pub expose_error_code: bool,
}

pub fn denied(d: &Denial, style: &DenialStyle<'_>) -> Response<ProxyBody> {
    let (status, base, reason, error) = match d {
        Denial::Unauthorized { reason, presented } => (
            StatusCode::UNAUTHORIZED,
            style.unauthorized_message,
            reason,
            presented.then_some("invalid_token"),
        ),
        Denial::Forbidden { reason } => (
            StatusCode::FORBIDDEN,
            style.forbidden_message,
            reason,
            Some("insufficient_scope"),
        ),
    };
    let text = if style.display_errors {
        format!("{base} ({reason})")
    } else {
        base.to_string()
    };
    let mut r = message(status, &text);
    let realm = style.realm.replace(['"', '\\'], "");
    let challenge = match error.filter(|_| style.expose_error_code) {
        Some(e) => format!("Bearer realm=\"{realm}\", error=\"{e}\""),
        None => format!("Bearer realm=\"{realm}\""),
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Failures of the identity provider or the upstream: never a 401, the client's credentials
/// may be fine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the identity provider could not be reached: {0}")]
    IdpUnreachable(String),
    #[error("the identity provider did not answer in time: {0}")]
    IdpTimeout(String),
    #[error("the identity provider answered with an error: {0}")]
    IdpFailed(String),
    #[error("the upstream could not be reached: {0}")]
    UpstreamUnreachable(String),
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
}

impl Unavailable {
    pub fn response(&self) -> Response<ProxyBody> {
        match self {
            Unavailable::IdpUnreachable(_) => message(
                StatusCode::BAD_GATEWAY,
                "The identity provider could not be reached",
            ),
            Unavailable::IdpTimeout(_) => message(
                StatusCode::GATEWAY_TIMEOUT,
                "The identity provider is timing out",
            ),
            Unavailable::IdpFailed(_) => message(
                StatusCode::BAD_GATEWAY,
                "An invalid response was received from the identity provider",
            ),
            Unavailable::UpstreamUnreachable(_) => message(
                StatusCode::BAD_GATEWAY,
                "An invalid response was received from the upstream server",
            ),
            Unavailable::UpstreamTimeout => message(
                StatusCode::GATEWAY_TIMEOUT,
                "The upstream server is timing out",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(display: bool) -> DenialStyle<'static> {
        DenialStyle {
            realm: "idp.example.com",
            unauthorized_message: "Unauthorized",
            forbidden_message: "Forbidden",
            display_errors: display,
            expose_error_code: true,
        }
    }

    #[test]
    fn kongs_shapes() {
        let r = denied(
            &Denial::Unauthorized {
                reason: "no credentials".into(),
                presented: false,
            },
            &style(false),
        );
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer realm=\"idp.example.com\""
        );
        let r = denied(
            &Denial::Unauthorized {
                reason: "signature".into(),
                presented: true,
            },
            &style(false),
        );
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer realm=\"idp.example.com\", error=\"invalid_token\""
        );
        let r = denied(
            &Denial::Forbidden {
                reason: "scope".into(),
            },
            &style(true),
        );
        assert_eq!(r.status(), 403);
        assert!(r.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .ends_with("error=\"insufficient_scope\""));
        assert_eq!(no_route().status(), 404);
        assert_eq!(Unavailable::IdpTimeout("x".into()).response().status(), 504);
    }
}
