//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636): validation rules
//! and redirect-URI matching. Pure: the protocol layer reads the query and renders the result.

use crate::{Client, OAuthError};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A validated authorization request, carried through login and consent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent (it must then be sent again at the token endpoint).
    pub redirect_uri_sent: bool,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub response_mode: ResponseMode,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

/// Why a request cannot even be redirected back: shown on an error page (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq)]
pub struct PageError(pub String);

/// A refused authorization request: shown on a page, or sent back to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    Page(PageError),
    Redirect(Box<AuthRequest>, OAuthError),
}

/// Exact matching, with Keycloak's one extension: a registered URI ending in `*` matches any
/// URI starting with what precedes it. Loopback IP redirects may use any port (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    // Whatever was registered (`*` matches everything), a browser is never sent to a script,
    // a data URI or a fragment (found by fuzzing: `*` matched `javascript:alert(1)`).
    if crate::client::browser_uri("redirect_uri", requested).is_err() {
        return false;
    }
    if let Some(prefix) = registered.strip_suffix('*') {
        return requested.starts_with(prefix) && !requested.contains('#');
    }
    if registered == requested {
        return true;
    }
    // Loopback: same URI apart from the port.
    for host in ["http://127.0.0.1", "http://[::1]"] {
        if let (Some(r), Some(q)) = (registered.strip_prefix(host), requested.strip_prefix(host)) {
            let strip_port = |s: &str| -> String {
                match s.strip_prefix(':') {
                    Some(rest) => rest
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .to_string(),
                    None => s.to_string(),
                }
            };
            return strip_port(r) == strip_port(q);
        }
    }
    false
}

/// The registered redirect URIs, with relative ones resolved against `rootUrl` as Keycloak does.
pub fn registered_redirects(client: &Client) -> Vec<String> {
    client
        .redirect_uris
        .iter()
        .map(|u| match (&client.root_url, u.starts_with('/')) {
            (Some(root), true) => format!("{}{u}", root.trim_end_matches('/')),
            _ => u.clone(),
        })
        .collect()
}

pub fn valid_redirect(client: &Client, uri: &str) -> bool {
    registered_redirects(client)
        .iter()
        .any(|r| redirect_uri_matches(r, uri))
}

fn pkce_ok(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Validates the authorization request. A [`Rejection::Page`] must be shown to the user; a
/// [`Rejection::Redirect`] goes back to the client with the request's `state`.
pub fn validate(
    client: Option<&Client>,
    params: &BTreeMap<String, String>,
) -> Result<AuthRequest, Rejection> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let page = |m: String| Err(Rejection::Page(PageError(m)));
    let Some(client_id) = get("client_id") else {
        return page("the request has no client_id".into());
    };
    let Some(client) = client else {
        return page(format!(
            "client '{client_id}' is not registered in this realm"
        ));
    };
    if !client.enabled {
        return page(format!("client '{client_id}' is disabled"));
    }
    let registered = registered_redirects(client);
    let redirect_uri = match get("redirect_uri") {
        Some(u) => {
            if !registered.iter().any(|r| redirect_uri_matches(r, u)) {
                return page(format!("redirect_uri '{u}' is not registered for client '{client_id}'"));
            }
            u.to_string()
        }
        None => match registered.as_slice() {
            [only] if !only.ends_with('*') => only.clone(),
            _ => return page(format!("the request has no redirect_uri and client '{client_id}' has no single registered one")),
        },
    };
    let response_mode = match get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => {
            return page(format!(
                "response_mode '{other}' is not supported (query, fragment or form_post)"
            ));
        }
    };
    let req = AuthRequest {
        client_id: client_id.to_string(),
        redirect_uri,
        redirect_uri_sent: get("redirect_uri").is_some(),
        scope: get("scope").map(str::to_string),
        state: get("state").map(str::to_string),
        nonce: get("nonce").map(str::to_string),
        response_mode,
        code_challenge: get("code_challenge").map(str::to_string),
        prompt: get("prompt")
            .map(|p| {
                p.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        max_age: None,
        login_hint: get("login_hint").map(str::to_string),
    };
    let fail =
        |req: &AuthRequest, e: OAuthError| Err(Rejection::Redirect(Box::new(req.clone()), e));
    match get("response_type") {
        Some("code") => {}
        None => return fail(&req, OAuthError::invalid_request("response_type is missing: latchkey supports 'code'")),
        Some(other) => {
            return fail(
                &req,
                OAuthError::new(
                    crate::ErrorCode::UnsupportedResponseType,
                    format!("response_type '{other}' is not supported: use the authorization code flow ('code')"),
                ),
            )
        }
    }
    if !client.standard_flow_enabled {
        return fail(&req, OAuthError::unauthorized_client(format!(
            "client '{client_id}' may not use the authorization code flow: enable 'standardFlowEnabled'"
        )));
    }
    if client.bearer_only {
        return fail(
            &req,
            OAuthError::unauthorized_client(format!("client '{client_id}' is bearer-only")),
        );
    }
    let required = client
        .attribute("pkce.code.challenge.method")
        .filter(|m| !m.is_empty());
    match (&req.code_challenge, get("code_challenge_method")) {
        (Some(c), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" {
                return fail(
                    &req,
                    OAuthError::invalid_request(format!(
                        "code_challenge_method '{method}' is not supported: use S256"
                    )),
                );
            }
            if !pkce_ok(c) {
                return fail(
                    &req,
                    OAuthError::invalid_request(
                        "code_challenge must be 43-128 characters of A-Z a-z 0-9 - . _ ~",
                    ),
                );
            }
        }
        (None, Some(_)) => {
            return fail(
                &req,
                OAuthError::invalid_request(
                    "code_challenge_method was sent without code_challenge",
                ),
            )
        }
        (None, None) if client.public_client || required.is_some() => {
            return fail(&req, OAuthError::invalid_request(format!(
                "client '{client_id}' must use PKCE: send code_challenge and code_challenge_method=S256"
            )));
        }
        (None, None) => {}
    }
    if req.prompt.contains(&"none".to_string()) && req.prompt.len() > 1 {
        return fail(
            &req,
            OAuthError::invalid_request("prompt=none cannot be combined with other prompt values"),
        );
    }
    let mut req = req;
    if let Some(m) = get("max_age") {
        match m.parse::<i64>() {
            Ok(v) if v >= 0 => req.max_age = Some(v),
            _ => {
                return fail(
                    &req,
                    OAuthError::invalid_request(format!(
                        "max_age '{m}' is not a number of seconds"
                    )),
                )
            }
        }
    }
    if let Err(e) = crate::scope::resolve(client, req.scope.as_deref()) {
        return fail(&req, e);
    }
    Ok(req)
}

/// PKCE S256 (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) == challenge. The caller hashes.
pub fn verifier_ok(verifier: &str) -> bool {
    pkce_ok(verifier)
}

#[cfg(test)]
mod tests {
    use super::redirect_uri_matches;

    /// Found by fuzzing (fuzz/corpus/redirect_uri/star): a client registered with `*` sent the
    /// browser anywhere, scripts included.
    #[test]
    fn a_wildcard_never_matches_a_script_or_data_uri() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>x</script>",
            "vbscript:x",
            "https://app.example/cb#frag",
            "https://app.example/ cb",
        ] {
            assert!(!redirect_uri_matches("*", bad), "{bad}");
            assert!(!redirect_uri_matches("https://app.example/*", bad), "{bad}");
        }
        assert!(redirect_uri_matches("*", "https://app.example/cb"));
    }

    use super::*;

    #[test]
    fn exact_matching_and_wildcards() {
        assert!(redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
        for bad in [
            "https://app.example/cb?x=1",
            "https://app.example/cb/",
            "https://APP.example/cb",
            "https://app.example/cb#f",
        ] {
            assert!(
                !redirect_uri_matches("https://app.example/cb", bad),
                "{bad}"
            );
        }
        assert!(redirect_uri_matches(
            "http://localhost:3000/*",
            "http://localhost:3000/any/path?x=1"
        ));
        assert!(!redirect_uri_matches(
            "http://localhost:3000/*",
            "http://localhost:30001/"
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5000/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5000/other"
        ));
    }

    fn client(public: bool) -> Client {
        let rep = crate::keycloak::ClientRepresentation {
            client_id: "spa".into(),
            public_client: Some(public),
            redirect_uris: Some(vec!["https://app.example/cb".into()]),
            ..Default::default()
        };
        Client::from_representation("i".into(), "r".into(), &rep, vec![]).unwrap()
    }

    fn params(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn public_clients_need_pkce() {
        let c = client(true);
        let base = [
            ("client_id", "spa"),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
        ];
        let Rejection::Redirect(_, e) = validate(Some(&c), &params(&base)).unwrap_err() else {
            panic!()
        };
        assert!(e.description.contains("PKCE"));
        let mut ok = base.to_vec();
        ok.extend([("code_challenge", CH), ("code_challenge_method", "S256")]);
        assert!(validate(Some(&c), &params(&ok)).is_ok());
        let mut plain = base.to_vec();
        plain.push(("code_challenge", CH));
        assert!(validate(Some(&c), &params(&plain)).is_err(), "plain is off");
    }

    #[test]
    fn bad_client_or_redirect_is_a_page() {
        let c = client(false);
        let p = params(&[
            ("client_id", "spa"),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
        ]);
        assert!(matches!(validate(Some(&c), &p), Err(Rejection::Page(_))));
        assert!(matches!(validate(None, &p), Err(Rejection::Page(_))));
    }

    #[test]
    fn implicit_is_unsupported() {
        let c = client(false);
        let p = params(&[
            ("client_id", "spa"),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "token"),
            ("state", "s"),
        ]);
        let Rejection::Redirect(req, e) = validate(Some(&c), &p).unwrap_err() else {
            panic!()
        };
        assert_eq!(e.code, crate::ErrorCode::UnsupportedResponseType);
        assert_eq!(req.state.as_deref(), Some("s"));
    }

    #[test]
    fn pkce_vector() {
        assert!(verifier_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!verifier_ok("short"));
    }
}
