//! Calls to an identity provider's token, introspection and revocation endpoints with the
//! plugin's own client. A 4xx answer is the provider refusing (the client hears 401); a
//! provider that cannot be reached or fails (5xx) is [`Unavailable`] (502/504).

use super::http::{Auth, IdpHttp};
use crate::config::oidc::ClientAuth;
use crate::errors::Unavailable;
use serde_json::Value;
use std::time::Duration;

/// The client the gateway authenticates as, and how.
pub struct ClientCreds<'a> {
    pub id: &'a str,
    pub secret: Option<&'a str>,
    pub auth: ClientAuth,
}

/// Where and how to call.
pub struct Call<'a> {
    pub http: &'a IdpHttp,
    pub timeout: Duration,
    pub verify_tls: bool,
}

/// A token endpoint's successful answer (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct TokenAnswer {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The provider answered 4xx: `error` and its description, for the log.
    Rejected(String),
    Unavailable(Unavailable),
}

impl From<Unavailable> for Refused {
    fn from(u: Unavailable) -> Refused {
        Refused::Unavailable(u)
    }
}

fn authenticated<'a>(form: &mut Vec<(&'a str, &'a str)>, client: &ClientCreds<'a>) -> Auth<'a> {
    match (client.auth, client.secret) {
        (ClientAuth::Basic, Some(secret)) => Auth::Basic(client.id, secret),
        (ClientAuth::Post, Some(secret)) => {
            form.push(("client_id", client.id));
            form.push(("client_secret", secret));
            Auth::None
        }
        _ => {
            form.push(("client_id", client.id));
            Auth::None
        }
    }
}

async fn post(
    call: &Call<'_>,
    url: &str,
    mut form: Vec<(&str, &str)>,
    client: &ClientCreds<'_>,
) -> Result<Value, Refused> {
    let auth = authenticated(&mut form, client);
    let answer = call
        .http
        .post_form(url, &form, auth, call.timeout, call.verify_tls)
        .await?;
    let json = answer.json();
    if answer.status.is_server_error() {
        return Err(Refused::Unavailable(Unavailable::IdpFailed(format!(
            "{url}: HTTP {}",
            answer.status
        ))));
    }
    if !answer.status.is_success() {
        let (error, description) = json
            .as_ref()
            .map(|j| {
                (
                    j.get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    j.get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .unwrap_or_default();
        return Err(Refused::Rejected(format!(
            "HTTP {} {error}: {description}",
            answer.status.as_u16()
        )));
    }
    json.filter(Value::is_object).ok_or_else(|| {
        Refused::Unavailable(Unavailable::IdpFailed(format!(
            "{url}: the answer is not a JSON object"
        )))
    })
}

/// A grant at the token endpoint: `form` holds `grant_type` and the grant's parameters.
pub async fn grant(
    call: &Call<'_>,
    url: &str,
    form: Vec<(&str, &str)>,
    client: &ClientCreds<'_>,
) -> Result<TokenAnswer, Refused> {
    let v = post(call, url, form, client).await?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let access_token = text("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Refused::Unavailable(Unavailable::IdpFailed(format!(
                "{url}: the answer has no access_token"
            )))
        })?;
    Ok(TokenAnswer {
        access_token,
        refresh_token: text("refresh_token").filter(|t| !t.is_empty()),
        id_token: text("id_token").filter(|t| !t.is_empty()),
        expires_in: v.get("expires_in").and_then(|e| {
            e.as_i64()
                .or_else(|| e.as_str().and_then(|s| s.parse().ok()))
        }),
        scope: text("scope"),
    })
}

/// RFC 7662 introspection; the provider's answer as it is (`active` is the caller's to judge).
pub async fn introspect(
    call: &Call<'_>,
    url: &str,
    token: &str,
    client: &ClientCreds<'_>,
) -> Result<Value, Refused> {
    post(
        call,
        url,
        vec![("token", token), ("token_type_hint", "access_token")],
        client,
    )
    .await
}

/// RFC 7009 revocation; failures are logged by the caller and change nothing for the client.
pub async fn revoke(
    call: &Call<'_>,
    url: &str,
    token: &str,
    hint: &str,
    client: &ClientCreds<'_>,
) -> Result<(), Refused> {
    let mut form = vec![("token", token), ("token_type_hint", hint)];
    let auth = authenticated(&mut form, client);
    let answer = call
        .http
        .post_form(url, &form, auth, call.timeout, call.verify_tls)
        .await?;
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(Refused::Rejected(format!(
            "HTTP {}",
            answer.status.as_u16()
        )))
    }
}
