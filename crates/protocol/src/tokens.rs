//! Minting a token response: access token, optional ID token and refresh token, in Keycloak's
//! response shape.

use crate::error::{no_store, ApiError};
use crate::realms::RealmContext;
use axum::response::{IntoResponse, Response};
use latchkey_crypto::jws;
use latchkey_domain::claims::{self, TokenContext};
use latchkey_domain::realm::SigningAlg;
use latchkey_domain::scope::Scopes;
use latchkey_domain::{policy, Client, OAuthError, RefreshRecord, User};
use serde::Serialize;

#[derive(Debug, Serialize)]
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

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut r = axum::Json(self).into_response();
        no_store(&mut r);
        r
    }
}

/// What one response is issued for.
pub struct Grant<'a> {
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
}

fn alg_for(ctx: &RealmContext, client: &Client, attr: &str) -> SigningAlg {
    client
        .attribute(attr)
        .and_then(|a| a.parse().ok())
        .unwrap_or(ctx.realm.default_signature_algorithm)
}

fn sign_err(e: impl std::fmt::Display) -> ApiError {
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

pub fn mint(ctx: &RealmContext, g: &Grant<'_>) -> Result<TokenResponse, ApiError> {
    let lifespan = policy::access_token_lifespan(&ctx.realm, g.client);
    let exp = g.now + lifespan;
    let tctx = TokenContext {
        issuer: &ctx.issuer,
        realm: &ctx.realm,
        client: g.client,
        user: g.user,
        sid: g.sid,
        scopes: g.scopes,
        now: g.now,
        auth_time: g.auth_time,
        nonce: g.nonce,
    };
    let at_alg = alg_for(ctx, g.client, "access.token.signed.response.alg");
    let at_key = ctx
        .keys
        .signing(at_alg)
        .ok_or_else(|| sign_err(format!("no active {at_alg} key")))?;
    let at_claims = claims::access_token(&tctx, &uuid::Uuid::new_v4().to_string(), exp);
    let access_token = jws::sign(at_key, "JWT", &at_claims).map_err(sign_err)?;
    let id_token = if g.scopes.openid() {
        let id_alg = alg_for(ctx, g.client, "id.token.signed.response.alg");
        let id_key = ctx
            .keys
            .signing(id_alg)
            .ok_or_else(|| sign_err(format!("no active {id_alg} key")))?;
        let at_hash = id_key.at_hash(&access_token);
        let c = claims::id_token(&tctx, &uuid::Uuid::new_v4().to_string(), exp, &at_hash);
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
        scope: g.scopes.to_scope_string(),
    })
}
