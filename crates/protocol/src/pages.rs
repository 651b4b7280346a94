//! Server-rendered pages (minijinja, auto-escaped): login, consent, logout confirmation, errors.
//! Every page carries a Content-Security-Policy with a per-response nonce and
//! `frame-ancestors 'none'` (clickjacking), and is never cached.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};

pub struct Pages {
    env: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        let mut env = Environment::new();
        for (name, src) in [
            ("base.html", include_str!("../templates/base.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("consent.html", include_str!("../templates/consent.html")),
            ("error.html", include_str!("../templates/error.html")),
            ("logout.html", include_str!("../templates/logout.html")),
            ("message.html", include_str!("../templates/message.html")),
            (
                "form_post.html",
                include_str!("../templates/form_post.html"),
            ),
        ] {
            env.add_template(name, src).expect("templates parse");
        }
        Pages { env }
    }
}

/// Extra origins a page's forms may submit (and redirect) to.
pub struct PageOptions<'a> {
    pub form_targets: &'a [String],
}

impl Pages {
    /// Renders `name` with `ctx` (a map; `nonce` is added).
    pub fn render(
        &self,
        status: StatusCode,
        name: &str,
        ctx: Value,
        opts: PageOptions<'_>,
    ) -> Response {
        let nonce = latchkey_crypto::random_token(16);
        let ctx = minijinja::context! { nonce => nonce.clone(), ..ctx };
        let html = match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, page = name, "template failed");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "page could not be rendered",
                )
                    .into_response();
            }
        };
        let mut targets = String::from("'self'");
        for t in opts.form_targets {
            targets.push(' ');
            targets.push_str(t);
        }
        let csp = format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self' data:; \
             form-action {targets}; frame-ancestors 'none'; base-uri 'none'"
        );
        let mut r = (status, Html(html)).into_response();
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    pub fn error(&self, status: StatusCode, realm_title: &str, message: &str) -> Response {
        self.render(
            status,
            "error.html",
            minijinja::context! { realm_title => realm_title, message => message },
            PageOptions { form_targets: &[] },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_and_carry_csp() {
        let p = Pages::default();
        let r = p.error(
            StatusCode::BAD_REQUEST,
            "<b>x</b>",
            "<script>alert(1)</script>",
        );
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("frame-ancestors 'none'"));
        let body = futures_body(r);
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(body.contains("&lt;script&gt;"));
    }

    fn futures_body(r: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt
            .block_on(axum::body::to_bytes(r.into_body(), 1 << 20))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
