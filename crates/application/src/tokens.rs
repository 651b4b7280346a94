//! Minting a token response: access token, optional ID token and refresh token, in Keycloak's
//! response shape.

use crate::error::Error;
use crate::realms::RealmContext;
use latchkey_crypto::jws;
use latchkey_domain::claims::{self, TokenContext};
use latchkey_domain::model::apply::Notes;
use latchkey_domain::realm::SigningAlg;
use latchkey_domain::scope::Scopes;
use latchkey_domain::{policy, Client, OAuthError, RefreshRecord, User};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(rename = "not-before-policy")]
    pub not_before_policy: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_state: Option<String>,
    pub scope: String,
}

impl TokenResponse {
    /// The response body, as `serde_json` writes it, in one buffer of the right size. The
    /// tokens are JWS compact serializations (base64url and dots): they are copied as they
    /// are instead of being scanned for characters to escape, a third of a refresh's JSON work.
    pub fn to_json(&self) -> Vec<u8> {
        fn token(out: &mut Vec<u8>, name: &str, t: &str) {
            debug_assert!(t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":\"");
            out.extend_from_slice(t.as_bytes());
            out.push(b'"');
        }
        fn string(out: &mut Vec<u8>, name: &str, v: &str) {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            serde_json::to_writer(&mut *out, v).expect("a string serializes");
        }
        fn number(out: &mut Vec<u8>, name: &str, n: i64) {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        let tokens = self.access_token.len()
            + self.refresh_token.as_ref().map_or(0, String::len)
            + self.id_token.as_ref().map_or(0, String::len);
        let mut out = Vec::with_capacity(tokens + self.scope.len() + 256);
        out.extend_from_slice(b"{\"access_token\":\"");
        out.extend_from_slice(self.access_token.as_bytes());
        out.push(b'"');
        number(&mut out, "expires_in", self.expires_in);
        number(&mut out, "refresh_expires_in", self.refresh_expires_in);
        if let Some(t) = &self.refresh_token {
            token(&mut out, "refresh_token", t);
        }
        string(&mut out, "token_type", self.token_type);
        if let Some(t) = &self.id_token {
            token(&mut out, "id_token", t);
        }
        number(&mut out, "not-before-policy", self.not_before_policy);
        if let Some(s) = &self.session_state {
            string(&mut out, "session_state", s);
        }
        string(&mut out, "scope", &self.scope);
        out.push(b'}');
        out
    }
}

/// What one response is issued for.
pub struct Grant<'a> {
    /// Where the tokens' `jti`s come from.
    pub ids: &'a dyn crate::ids::Ids,
    pub client: &'a Client,
    pub user: &'a User,
    pub sid: Option<&'a str>,
    /// Scopes of the access and ID tokens (a refresh may narrow them).
    pub scopes: &'a Scopes,
    pub auth_time: Option<i64>,
    pub nonce: Option<&'a str>,
    /// The refresh token to hand out, if any.
    pub refresh: Option<&'a RefreshRecord>,
    pub now: i64,
    /// The session notes session-note mappers read.
    pub notes: Notes<'a>,
}

fn alg_for(ctx: &RealmContext, client: &Client, attr: &str) -> SigningAlg {
    client
        .attribute(attr)
        .and_then(|a| a.parse().ok())
        .unwrap_or(ctx.realm.default_signature_algorithm)
}

fn sign_err(e: impl std::fmt::Display) -> Error {
    tracing::error!(error = %e, "signing failed");
    OAuthError::server_error("token signing failed").into()
}

/// Signs the refresh token of `rec` (deterministic: the same record gives the same token).
pub fn refresh_token(
    ctx: &RealmContext,
    rec: &RefreshRecord,
    user_id: &str,
    client_id: &str,
    sid: &str,
) -> String {
    let c = claims::refresh_token(&ctx.issuer, rec, user_id, client_id, sid);
    jws::sign_hmac(&ctx.keys.hmac_active, &c)
}

pub fn mint(ctx: &RealmContext, g: &Grant<'_>) -> Result<TokenResponse, Error> {
    let lifespan = policy::access_token_lifespan(&ctx.realm, g.client);
    let exp = g.now + lifespan;
    let tctx = TokenContext {
        issuer: &ctx.issuer,
        realm: &ctx.realm,
        model: &ctx.model,
        client: g.client,
        user: g.user,
        sid: g.sid,
        scopes: g.scopes,
        now: g.now,
        auth_time: g.auth_time,
        nonce: g.nonce,
        notes: Notes {
            auth_time: g.notes.auth_time.or(g.auth_time),
            service_account: g.notes.service_account || g.user.service_account_client_id.is_some(),
            ..g.notes
        },
    };
    let roles = tctx.subject().token_roles();
    let at_alg = alg_for(ctx, g.client, "access.token.signed.response.alg");
    let at_key = ctx
        .keys
        .signing(at_alg)
        .ok_or_else(|| sign_err(format!("no active {at_alg} key")))?;
    let at_jti = g.ids.new_token_id();
    let at_claims = claims::access_token(&tctx, &roles, &at_jti, exp);
    let access_token = jws::sign(at_key, "JWT", &at_claims).map_err(sign_err)?;
    let id_token = if g.scopes.openid() {
        let id_alg = alg_for(ctx, g.client, "id.token.signed.response.alg");
        let id_key = ctx
            .keys
            .signing(id_alg)
            .ok_or_else(|| sign_err(format!("no active {id_alg} key")))?;
        let at_hash = id_key.at_hash(&access_token);
        let id_jti = g.ids.new_token_id();
        let c = claims::id_token(&tctx, &roles, &id_jti, exp, &at_hash);
        Some(jws::sign(id_key, "JWT", &c).map_err(sign_err)?)
    } else {
        None
    };
    let (refresh_token, refresh_expires_in) = match (g.refresh, g.sid) {
        (Some(rec), Some(sid)) => (
            Some(refresh_token(
                ctx,
                rec,
                &g.user.id,
                &g.client.client_id,
                sid,
            )),
            rec.expires_at.map(|e| (e - g.now).max(0)).unwrap_or(0),
        ),
        _ => (None, 0),
    };
    Ok(TokenResponse {
        access_token,
        expires_in: lifespan,
        refresh_expires_in,
        refresh_token,
        token_type: "Bearer",
        id_token,
        not_before_policy: ctx.realm.not_before,
        session_state: g.sid.map(str::to_string),
        scope: tctx.scope_claim(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written body is byte for byte what serde_json makes of the struct.
    #[test]
    fn the_body_is_what_serde_writes() {
        let full = TokenResponse {
            access_token: "eyJh.eyJz.c2ln".into(),
            expires_in: 300,
            refresh_expires_in: 0,
            refresh_token: Some("a-b_c.d.e".into()),
            token_type: "Bearer",
            id_token: Some("x.y.z".into()),
            not_before_policy: -1,
            session_state: Some("s\"\\\u{1}é".into()),
            scope: "openid \"email\" profile".into(),
        };
        let bare = TokenResponse {
            refresh_token: None,
            id_token: None,
            session_state: None,
            scope: String::new(),
            ..full.clone()
        };
        for r in [full, bare] {
            assert_eq!(
                String::from_utf8(r.to_json()).unwrap(),
                serde_json::to_string(&r).unwrap()
            );
        }
    }
}
