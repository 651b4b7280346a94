//! The tokens a request is authenticated with, however they were obtained, and how a token
//! endpoint's answer becomes them: every token the issuer hands over is verified before use.

use crate::errors::Unavailable;
use crate::idp::issuer::Issuer;
use crate::idp::token::{Refused, TokenAnswer};
use crate::jwt::{self, Expect, Refusal};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// When the access token expires, in seconds since the epoch, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The access token's verified claims, or the introspection answer for an opaque token.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// The ID token's verified claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_claims: Option<Map<String, Value>>,
    /// The introspection answer, when the token was introspected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection: Option<Value>,
}

impl Tokens {
    /// Whether the access token is still good `leeway` seconds from now.
    pub fn fresh(&self, now: i64, leeway: i64) -> bool {
        self.expires_at.is_none_or(|exp| exp - leeway > now)
    }
}

/// Why tokens could not be obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The issuer refused: the client hears 401.
    Refused(String),
    /// The issuer answered, but what it handed over did not verify: the client hears 401, and
    /// the credential is never presented again (the issuer may have rotated it already).
    Unverified(String),
    Unavailable(Unavailable),
}

impl From<Refused> for Failure {
    fn from(r: Refused) -> Failure {
        match r {
            Refused::Rejected(m) => Failure::Refused(format!("the identity provider refused: {m}")),
            Refused::Unavailable(u) => Failure::Unavailable(u),
        }
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        match r {
            Refusal::Invalid(m) => Failure::Refused(m),
            Refusal::Unavailable(u) => Failure::Unavailable(u),
        }
    }
}

/// Verifies what a token endpoint answered and keeps it. `previous_refresh` stays when the
/// answer carries no new refresh token (as Kong does); `nonce` is checked for the code flow.
pub async fn from_answer(
    issuer: &Issuer,
    answer: TokenAnswer,
    client_id: &str,
    nonce: Option<&str>,
    previous_refresh: Option<&str>,
    now: i64,
    leeway: i64,
) -> Result<Tokens, Failure> {
    let mut claims = Map::new();
    let mut expires_at = answer.expires_in.filter(|e| *e > 0).map(|e| now + e);
    if jwt::looks_like_jwt(&answer.access_token) {
        let v = jwt::verify(issuer, &answer.access_token, Expect::Access, now, leeway)
            .await
            .map_err(|r| match r {
                Refusal::Invalid(m) => Failure::Unverified(format!(
                    "the access token the identity provider issued does not verify: {m}"
                )),
                Refusal::Unavailable(u) => Failure::Unavailable(u),
            })?;
        expires_at = v.exp.or(expires_at);
        claims = (*v.claims).clone();
    } else if let Some(scope) = &answer.scope {
        claims.insert("scope".into(), Value::String(scope.clone()));
    }
    let id_claims = match &answer.id_token {
        Some(id) => Some(
            (*jwt::verify(issuer, id, Expect::Id { client_id, nonce }, now, leeway)
                .await
                .map_err(|r| match r {
                    Refusal::Invalid(m) => {
                        Failure::Unverified(format!("the ID token the identity provider issued does not verify: {m}"))
                    }
                    Refusal::Unavailable(u) => Failure::Unavailable(u),
                })?
                .claims)
                .clone(),
        ),
        None if nonce.is_some() => {
            return Err(Failure::Unverified(
                "the identity provider answered the sign-in without an ID token (is 'openid' among the scopes?)".into(),
            ))
        }
        None => None,
    };
    Ok(Tokens {
        access_token: answer.access_token,
        refresh_token: answer
            .refresh_token
            .or_else(|| previous_refresh.map(str::to_string)),
        id_token: answer.id_token,
        expires_at,
        claims,
        id_claims,
        introspection: None,
    })
}
