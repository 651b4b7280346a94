//! UserInfo (OIDC Core §5.3): the profile claims of a valid access token's user, as JSON or,
//! when the client registered `user.info.response.signature.alg` (Keycloak's attribute), as a
//! JWT with `iss` and `aud` (§5.3.2).

use crate::access::{self, Invalid};
use crate::app::App;
use crate::error::Error;
use crate::realms::RealmContext;
use latchkey_domain::claims::TokenContext;
use latchkey_domain::realm::SigningAlg;
use latchkey_domain::scope::Scopes;
use latchkey_domain::OAuthError;
use serde_json::Value;

/// The answer.
pub enum UserInfo {
    /// `application/json`.
    Json(Vec<u8>),
    /// `application/jwt`.
    Jwt(String),
}

/// Why there is no answer.
pub enum Failure {
    /// The bearer token is not (or no longer) good for UserInfo: RFC 6750's `invalid_token`.
    InvalidToken(String),
    Error(Error),
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Failure {
        Failure::Error(e.into())
    }
}

pub async fn userinfo(app: &App, ctx: &RealmContext, token: &str) -> Result<UserInfo, Failure> {
    let claims = match access::validate(ctx, app.store.as_ref(), token, app.now()).await {
        Ok(c) => c,
        Err(Invalid::Reason(r)) => return Err(Failure::InvalidToken(r)),
        Err(Invalid::Store(e)) => return Err(Failure::Error(e.into())),
    };
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    let user = match app.store.user_by_id(&ctx.realm.id, claim("sub")).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return Err(Failure::InvalidToken(
                "the user of this token no longer exists".into(),
            ))
        }
        Err(e) => return Err(Failure::Error(e.into())),
    };
    if !user.enabled {
        return Err(Failure::InvalidToken(
            "the user of this token is disabled".into(),
        ));
    }
    let Some(client) = ctx.client(claim("azp")) else {
        return Err(Failure::InvalidToken(
            "the client of this token no longer exists".into(),
        ));
    };
    let scopes = Scopes::from_granted(claim("scope"), client);
    let tctx = TokenContext {
        issuer: &ctx.issuer,
        realm: &ctx.realm,
        model: &ctx.model,
        client,
        user: &user,
        sid: None,
        scopes: &scopes,
        now: 0,
        auth_time: None,
        nonce: None,
        notes: Default::default(),
    };
    let roles = tctx.subject().token_roles();
    let info = latchkey_domain::claims::userinfo(&tctx, &roles);
    let signed = client
        .attribute("user.info.response.signature.alg")
        .filter(|a| !a.is_empty() && *a != "unsigned")
        .map(|a| {
            a.parse::<SigningAlg>().map_err(|e| {
                OAuthError::server_error(format!(
                    "client '{}' asks for signed userinfo with {e}",
                    client.client_id
                ))
            })
        })
        .transpose()?;
    let Some(alg) = signed else {
        let json = serde_json::to_vec(&info)
            .map_err(|e| OAuthError::server_error(format!("writing the userinfo response: {e}")))?;
        return Ok(UserInfo::Json(json));
    };
    #[derive(serde::Serialize)]
    struct Signed<'a> {
        iss: &'a str,
        aud: &'a str,
        #[serde(flatten)]
        info: serde_json::Map<String, Value>,
    }
    let key = ctx.keys.signing(alg).ok_or_else(|| {
        OAuthError::server_error(format!("realm '{}' has no {alg} key", ctx.realm.name))
    })?;
    let signed = Signed {
        iss: &ctx.issuer,
        aud: &client.client_id,
        info,
    };
    let jwt = latchkey_crypto::jws::sign(key, "JWT", &signed)
        .map_err(|e| OAuthError::server_error(format!("signing the userinfo response: {e}")))?;
    Ok(UserInfo::Jwt(jwt))
}
