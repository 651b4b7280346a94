//! Reading the tokens latchkey issued — the one place that knows how each is signed and what
//! it must say. Refresh tokens (`typ` Refresh or Offline) are HS512 with the realm's HMAC key;
//! access tokens (`typ` Bearer) and ID tokens (`typ` ID) are signed with the realm's signing
//! keys. Every reader here checks the signature, the issuer and the type; what a use case
//! checks beyond (the client, expiry, the stored state) stays with it.

use crate::realms::RealmContext;
use latchkey_crypto::jws;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// What the checks read of a presented refresh token. A claim that is missing or not a string
/// reads as empty (and fails its check by name).
pub trait PresentedClaims: DeserializeOwned {
    fn claim(&self, name: &str) -> &str;
}

impl PresentedClaims for Map<String, Value> {
    fn claim(&self, name: &str) -> &str {
        self.get(name).and_then(Value::as_str).unwrap_or("")
    }
}

/// What is in a refresh token, as far as the refresh grant reads it: only these claims are
/// decoded.
#[derive(Debug, Deserialize)]
pub struct RefreshClaims {
    #[serde(default, deserialize_with = "jws::string_or_absent")]
    typ: Option<String>,
    #[serde(default, deserialize_with = "jws::string_or_absent")]
    iss: Option<String>,
    #[serde(default, deserialize_with = "jws::string_or_absent")]
    azp: Option<String>,
    #[serde(default, deserialize_with = "jws::string_or_absent")]
    jti: Option<String>,
    #[serde(default, deserialize_with = "jws::string_or_absent")]
    sub: Option<String>,
    #[serde(default, deserialize_with = "jws::string_or_absent")]
    scope: Option<String>,
}

impl PresentedClaims for RefreshClaims {
    fn claim(&self, name: &str) -> &str {
        let claim = match name {
            "typ" => &self.typ,
            "iss" => &self.iss,
            "azp" => &self.azp,
            "jti" => &self.jti,
            "sub" => &self.sub,
            "scope" => &self.scope,
            _ => &None,
        };
        claim.as_deref().unwrap_or("")
    }
}

/// A refresh token this realm issued: signed with its HMAC key, of type Refresh or Offline,
/// from its issuer. The claims as `C` reads them.
pub fn refresh<C: PresentedClaims>(ctx: &RealmContext, token: &str) -> Result<C, String> {
    let parsed =
        jws::parse_as::<C>(token).map_err(|e| format!("refresh token is malformed: {e}"))?;
    let kid = parsed.kid().unwrap_or("");
    let Some(key) = ctx.keys.hmac_by_kid(kid) else {
        return Err(format!(
            "refresh token was not issued by realm '{}' of this server (unknown signing key '{}')",
            ctx.realm.name,
            latchkey_domain::sanitize(kid)
        ));
    };
    let claims = parsed
        .verify_hmac(key)
        .map_err(|e| format!("refresh token rejected: {e} (it was altered or forged)"))?
        .claims;
    let typ = claims.claim("typ");
    if typ != "Refresh" && typ != "Offline" {
        return Err(format!(
            "token of type '{typ}' is not a refresh token: send the refresh_token from the token response"
        ));
    }
    let iss = claims.claim("iss");
    if iss != ctx.issuer {
        return Err(format!(
            "refresh token was issued by '{iss}', not by this realm ('{}')",
            ctx.issuer
        ));
    }
    Ok(claims)
}

/// An access or ID token this realm signed, of type `typ` (`Bearer` or `ID`), from its
/// issuer. Not checked: expiry, and whether it was revoked.
pub fn signed(ctx: &RealmContext, token: &str, typ: &str) -> Result<Map<String, Value>, String> {
    let parsed = jws::parse(token).map_err(|e| e.to_string())?;
    if parsed.alg() == "HS512" {
        return Err(format!(
            "this is a refresh token; send {}",
            if typ == "ID" {
                "an ID token"
            } else {
                "an access token"
            }
        ));
    }
    let kid = parsed.kid().unwrap_or("").to_string();
    let key = ctx.keys.by_kid(&kid).ok_or_else(|| {
        format!(
            "token was signed with key '{kid}', which realm '{}' does not have",
            ctx.realm.name
        )
    })?;
    let claims = parsed.verify_asym(key).map_err(|e| e.to_string())?.claims;
    let found = claims.claim("typ");
    if found != typ {
        let wanted = if typ == "ID" {
            "an ID token"
        } else {
            "an access token"
        };
        return Err(format!("token type is '{found}', not {wanted} ('{typ}')"));
    }
    let iss = claims.claim("iss");
    if iss != ctx.issuer {
        return Err(format!(
            "token was issued by '{iss}', not by '{}'",
            ctx.issuer
        ));
    }
    Ok(claims)
}

/// Which kind of token [`read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A refresh token (online or offline).
    Refresh,
    Access,
}

/// A refresh or access token this realm issued (the revocation endpoint takes either), with
/// its claims.
pub fn read(ctx: &RealmContext, token: &str) -> Result<(Kind, Map<String, Value>), String> {
    let alg = jws::parse(token)
        .map_err(|e| e.to_string())?
        .alg()
        .to_string();
    if alg == "HS512" {
        Ok((Kind::Refresh, refresh(ctx, token)?))
    } else {
        Ok((Kind::Access, signed(ctx, token, "Bearer")?))
    }
}
