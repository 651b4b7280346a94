//! Authorization Code grant, token request (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5-4.6).
//! A code is single-use: a replay is refused and what the first exchange issued is revoked.

use super::{new_session, start_family};
use crate::error::ApiResult;
use crate::form::Params;
use crate::realms::RealmContext;
use crate::state::AppState;
use crate::tokens::{self, Grant, TokenResponse};
use latchkey_domain::claims::format_timestamp;
use latchkey_domain::scope::Scopes;
use latchkey_domain::{authorize, Client, OAuthError};
use latchkey_storage::Event;
use serde_json::json;

pub fn code_hash(code: &str) -> String {
    latchkey_crypto::b64url(latchkey_crypto::sha256(code.as_bytes()))
}

pub async fn grant(
    state: &AppState,
    ctx: &RealmContext,
    client: &Client,
    params: &Params,
) -> ApiResult<TokenResponse> {
    let code = params.require("code", "send the code from the authorization response")?;
    let now = crate::now();
    let hash = code_hash(code);
    // §4.1.3: the code is valid, unused, unexpired and was issued to this client.
    let Some(rec) = state.store.consume_code(&hash, now).await? else {
        return Err(OAuthError::invalid_grant(
            "authorization code is not valid: it was never issued here or has expired",
        )
        .into());
    };
    if let Some(used) = rec.used_at {
        // §4.1.2 / §10.5: a second use; revoke what the first one issued.
        if let Some(family) = &rec.family_id {
            let reason = "authorization code was used twice";
            if state.store.revoke_family(family, now, reason).await? {
                state
                    .store
                    .record_event(Event {
                        realm_id: Some(ctx.realm.id.clone()),
                        at: now,
                        kind: "CODE_REUSE".into(),
                        detail: json!({"client_id": rec.client_id, "family": family, "sid": rec.session_id}),
                    })
                    .await?;
            }
        }
        return Err(OAuthError::invalid_grant(format!(
            "authorization code was already used at {}: the tokens issued for it have been revoked",
            format_timestamp(used)
        ))
        .into());
    }
    if rec.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(format!(
            "authorization code was issued to client '{}', not to '{}'",
            rec.client_id, client.client_id
        ))
        .into());
    }
    if rec.expires_at <= now {
        return Err(OAuthError::invalid_grant(format!(
            "authorization code expired at {}: exchange codes as soon as they arrive",
            format_timestamp(rec.expires_at)
        ))
        .into());
    }
    // §4.1.3: redirect_uri identical to the authorization request's, when that had one.
    match (params.get("redirect_uri"), rec.redirect_uri_sent) {
        (Some(u), _) if u != rec.redirect_uri => {
            return Err(OAuthError::invalid_grant(format!(
                "redirect_uri '{u}' differs from the one of the authorization request ('{}')",
                rec.redirect_uri
            ))
            .into())
        }
        (None, true) => return Err(OAuthError::invalid_grant(
            "redirect_uri is missing: send the same redirect_uri as in the authorization request",
        )
        .into()),
        _ => {}
    }
    // RFC 7636 §4.6.
    match (&rec.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            let computed = latchkey_crypto::b64url(latchkey_crypto::sha256(verifier.as_bytes()));
            if !authorize::verifier_ok(verifier)
                || !latchkey_crypto::ct_eq(computed.as_bytes(), challenge.as_bytes())
            {
                return Err(OAuthError::invalid_grant(
                    "PKCE verification failed: code_verifier does not match the code_challenge",
                )
                .into());
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier is missing: this code was issued with a PKCE code_challenge",
            )
            .into())
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_verifier was sent but the authorization request had no code_challenge",
            )
            .into())
        }
        (None, None) => {}
    }
    let Some(session) = state
        .store
        .session(&rec.session_id)
        .await?
        .filter(|s| s.is_active())
    else {
        return Err(OAuthError::invalid_grant(
            "the session this code belongs to has ended: sign in again",
        )
        .into());
    };
    let user = state
        .store
        .user_by_id(&ctx.realm.id, &rec.user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| {
            OAuthError::invalid_grant("the user of this code no longer exists or is disabled")
        })?;
    let scopes = Scopes::from_granted(&rec.scope, client);
    let started = if scopes.offline() {
        // An offline session of its own: it outlives the browser session.
        let offline = new_session(ctx, &user, true, rec.auth_time, now);
        start_family(
            state,
            ctx,
            client,
            offline,
            true,
            &scopes,
            client.use_refresh_tokens(),
            now,
        )
        .await?
    } else {
        start_family(
            state,
            ctx,
            client,
            session,
            false,
            &scopes,
            client.use_refresh_tokens(),
            now,
        )
        .await?
    };
    state.store.set_code_family(&hash, &started.family).await?;
    tokens::mint(
        ctx,
        &Grant {
            client,
            user: &user,
            sid: Some(&started.session.id),
            scopes: &scopes,
            auth_time: Some(rec.auth_time),
            nonce: rec.nonce.as_deref(),
            refresh: started.refresh.as_ref(),
            now,
        },
    )
}
