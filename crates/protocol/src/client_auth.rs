//! Client authentication at the token, revocation, introspection and logout endpoints
//! (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`, or `none` for public clients,
//! exactly one method per request.

use crate::error::{ApiError, ApiResult};
use crate::form::Params;
use axum::http::HeaderMap;
use base64::Engine;
use latchkey_application::realms::RealmContext;
use latchkey_domain::{Client, OAuthError};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
    None,
}

/// The credentials a request presented.
#[derive(Debug)]
pub struct Presented {
    pub method: Method,
    pub client_id: String,
    pub secret: Option<String>,
}

fn basic_challenge(realm: &str) -> String {
    format!("Basic realm=\"{realm}\"")
}

/// Decodes `Authorization: Basic` per RFC 6749 §2.3.1: base64 of
/// `formurlencode(id) ":" formurlencode(secret)`. Each part is URL-decoded as Keycloak does it
/// (`%XX` and `+`), never split: a client that does not encode its secret (requests-oauthlib's
/// default) keeps a `&` or `=` in it.
fn decode_basic(value: &str) -> Result<(String, String), String> {
    let b64 = value.trim();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "the credentials after 'Basic ' are not valid base64".to_string())?;
    let text =
        String::from_utf8(raw).map_err(|_| "the decoded credentials are not UTF-8".to_string())?;
    let (id, secret) = text
        .split_once(':')
        .ok_or("the decoded credentials have no ':' between client id and secret")?;
    let decode = |s: &str| -> String {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let (id, secret) = (decode(id), decode(secret));
    if id.is_empty() {
        return Err("the client id in the Basic credentials is empty".into());
    }
    Ok((id, secret))
}

/// Reads which client the request claims to be and how it authenticates.
pub fn presented(
    headers: &HeaderMap,
    params: &Params,
    realm: &str,
) -> ApiResult<Option<Presented>> {
    let challenge = |e: String| {
        ApiError::from(OAuthError::invalid_client(format!(
            "Authorization header is not valid HTTP Basic: {e}"
        )))
        .challenge(basic_challenge(realm))
    };
    let value = crate::authorization::header(headers)
        .map_err(|e| ApiError::from(OAuthError::invalid_request(e)))?;
    let basic = match value.and_then(|v| crate::authorization::credentials(v, "Basic")) {
        // No header, or another scheme (e.g. Bearer): not client authentication.
        None => None,
        Some(creds) => {
            let creds = std::str::from_utf8(creds).map_err(|_| {
                challenge("it contains characters that are not visible ASCII".into())
            })?;
            if creds.is_empty() {
                return Err(challenge("no credentials after 'Basic'".into()));
            }
            Some(decode_basic(creds).map_err(challenge)?)
        }
    };
    let form_id = params.get("client_id");
    let form_secret = params.get("client_secret");
    if let Some((id, secret)) = basic {
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "the client authenticated twice (HTTP Basic and client_secret in the body): use exactly one method",
            )
            .into());
        }
        if let Some(fid) = form_id {
            if fid != id {
                return Err(OAuthError::invalid_request(format!(
                    "client_id '{fid}' in the body does not match client '{id}' in the Authorization header"
                ))
                .into());
            }
        }
        return Ok(Some(Presented {
            method: Method::Basic,
            client_id: id,
            secret: Some(secret),
        }));
    }
    match (form_id, form_secret) {
        (Some(id), Some(s)) => Ok(Some(Presented {
            method: Method::Post,
            client_id: id.into(),
            secret: Some(s.into()),
        })),
        (Some(id), None) => Ok(Some(Presented {
            method: Method::None,
            client_id: id.into(),
            secret: None,
        })),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret was sent without client_id: send both",
        )
        .into()),
        (None, None) => Ok(None),
    }
}

use latchkey_domain::event::types::error as errors;

/// Authenticates the client the request names. Fails with `invalid_client` naming the check.
pub fn authenticate(
    ctx: &RealmContext,
    headers: &HeaderMap,
    params: &Params,
) -> ApiResult<Arc<Client>> {
    let realm = &ctx.realm.name;
    let Some(p) = presented(headers, params, realm)? else {
        return Err(OAuthError::invalid_client(
            "no client identified: send client_id in the form (public clients) or authenticate with HTTP Basic or client_id + client_secret (confidential clients)",
        )
        .with_status(400)
        .into());
    };
    let fail = |msg: String, why: &'static str| {
        let e = ApiError::from(OAuthError::invalid_client(msg).event_error(why));
        if p.method == Method::Basic {
            e.challenge(basic_challenge(realm))
        } else {
            e
        }
    };
    let Some(client) = ctx.client(&p.client_id) else {
        return Err(fail(
            format!(
                "client '{}' is not registered in realm '{realm}'",
                crate::error::sanitize(&p.client_id)
            ),
            errors::CLIENT_NOT_FOUND,
        ));
    };
    if !client.enabled {
        return Err(fail(
            format!(
                "client '{}' is disabled in realm '{realm}'",
                client.client_id
            ),
            errors::CLIENT_DISABLED,
        ));
    }
    if client.is_confidential() {
        let Some(secret) = p.secret.as_deref() else {
            return Err(fail(format!(
                "client '{}' is confidential: authenticate with its secret (HTTP Basic or client_secret)",
                client.client_id
            ), errors::INVALID_CLIENT_CREDENTIALS));
        };
        let ok = client
            .secret
            .as_ref()
            .is_some_and(|s| latchkey_crypto::secrets::matches(secret, &s.digest));
        if !ok {
            return Err(fail(format!(
                "client secret for '{}' does not match: check the secret (the admin console or `GET .../client-secret` shows the current one)",
                client.client_id
            ), errors::INVALID_CLIENT_CREDENTIALS));
        }
    }
    if client.bearer_only {
        return Err(OAuthError::unauthorized_client(format!(
            "client '{}' is bearer-only: it cannot obtain tokens",
            client.client_id
        ))
        .event_error(errors::INVALID_CLIENT)
        .into());
    }
    Ok(client.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn basic_decodes_form_encoding() {
        assert_eq!(
            decode_basic(&b64("my%3Aclient:s%2Bc+r%25t")).unwrap(),
            ("my:client".into(), "s+c r%t".into())
        );
        assert_eq!(
            decode_basic(&b64("web:a:b")).unwrap(),
            ("web".into(), "a:b".into())
        );
        // Not encoded at all (requests-oauthlib's default): a raw '&' or '=' stays in the secret.
        assert_eq!(
            decode_basic(&b64("web:a&b=c")).unwrap(),
            ("web".into(), "a&b=c".into())
        );
        assert_eq!(
            decode_basic(&b64("web:50%25&more")).unwrap(),
            ("web".into(), "50%&more".into())
        );
        assert!(decode_basic("!!!").is_err());
        assert!(decode_basic(&b64("nocolon")).is_err());
        assert!(decode_basic(&b64(":secret")).is_err());
    }
}
