//! Authorization Code grant, token request (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5-4.6).
//! A code is single-use: it is redeemed in one transaction that reads it, judges it and starts
//! the grant, so a replay — whenever it arrives — finds it used and revokes what the first
//! exchange issued (§4.1.2, §10.5).

use super::{new_grant, new_session};
use crate::app::App;
use crate::error::Result;
use crate::ids::Ids;
use crate::params::Params;
use crate::realms::RealmContext;
use crate::tokens::{self, Grant, TokenResponse};
use latchkey_domain::claims::format_timestamp;
use latchkey_domain::model::apply::Notes;
use latchkey_domain::scope::Scopes;
use latchkey_domain::{authorize, Client, OAuthError, Timestamp};
use latchkey_storage::{CodeDecision, CodeState};
use std::sync::Arc;

pub fn code_hash(code: &str) -> String {
    latchkey_crypto::b64url(latchkey_crypto::sha256(code.as_bytes()))
}

/// What the token request says about the code it presents.
struct Presented {
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

pub async fn grant(
    app: &App,
    ctx: &Arc<RealmContext>,
    client: &Arc<Client>,
    params: &Params,
) -> Result<TokenResponse> {
    let code = params.require("code", "send the code from the authorization response")?;
    let now = app.now();
    let presented = Presented {
        redirect_uri: params.get("redirect_uri").map(str::to_string),
        code_verifier: params.get("code_verifier").map(str::to_string),
    };
    let (c, cl, ids) = (ctx.clone(), client.clone(), app.ids.clone());
    let decide = Box::new(
        move |st: &CodeState| match check(&cl, &presented, st, now) {
            Ok(()) => CodeDecision::Redeem(Box::new(start(&*ids, &c, &cl, st, now))),
            Err(refusal) => refusal,
        },
    );
    let redeemed = app.store.redeem_code(&code_hash(code), now, decide).await?;
    let Some((st, decision)) = redeemed else {
        return Err(OAuthError::invalid_grant(
            "authorization code is not valid: it was never issued here or has expired",
        )
        .into());
    };
    let grant = match decision {
        CodeDecision::Redeem(grant) => grant,
        CodeDecision::Refuse { error, .. } => return Err(error.into()),
    };
    let user = st.user.as_ref().expect("a redeemed code has its user");
    tokens::mint(
        ctx,
        &Grant {
            ids: &*app.ids,
            client,
            user,
            sid: Some(&grant.session.id),
            scopes: &Scopes::from_granted(&st.code.scope, client),
            auth_time: Some(st.code.auth_time),
            nonce: st.code.nonce.as_deref(),
            refresh: grant.refresh.as_ref(),
            now,
            notes: Notes::default(),
        },
    )
}

fn refuse(error: OAuthError) -> CodeDecision {
    CodeDecision::Refuse {
        error,
        revoke_family: None,
    }
}

/// §4.1.3 and RFC 7636 §4.6: the code is unused, was issued to this client, is unexpired, the
/// redirect URI and the PKCE verifier match, and its session and user can still sign in.
fn check(
    client: &Client,
    presented: &Presented,
    st: &CodeState,
    now: Timestamp,
) -> std::result::Result<(), CodeDecision> {
    let rec = &st.code;
    if let Some(used) = rec.used_at {
        return Err(CodeDecision::Refuse {
            error: OAuthError::invalid_grant(format!(
                "authorization code was already used at {}: the tokens issued for it have been revoked",
                format_timestamp(used)
            )),
            revoke_family: Some("authorization code was used twice".into()),
        });
    }
    if rec.client_id != client.client_id {
        return Err(refuse(OAuthError::invalid_grant(format!(
            "authorization code was issued to client '{}', not to '{}'",
            rec.client_id, client.client_id
        ))));
    }
    if rec.expires_at <= now {
        return Err(refuse(OAuthError::invalid_grant(format!(
            "authorization code expired at {}: exchange codes as soon as they arrive",
            format_timestamp(rec.expires_at)
        ))));
    }
    // §4.1.3: redirect_uri identical to the authorization request's, when that had one.
    match (presented.redirect_uri.as_deref(), rec.redirect_uri_sent) {
        (Some(u), _) if u != rec.redirect_uri => {
            return Err(refuse(OAuthError::invalid_grant(format!(
                "redirect_uri '{u}' differs from the one of the authorization request ('{}')",
                rec.redirect_uri
            ))))
        }
        (None, true) => return Err(refuse(OAuthError::invalid_grant(
            "redirect_uri is missing: send the same redirect_uri as in the authorization request",
        ))),
        _ => {}
    }
    // RFC 7636 §4.6.
    match (&rec.code_challenge, presented.code_verifier.as_deref()) {
        (Some(challenge), Some(verifier)) => {
            let computed = latchkey_crypto::b64url(latchkey_crypto::sha256(verifier.as_bytes()));
            if !authorize::verifier_ok(verifier)
                || !latchkey_crypto::ct_eq(computed.as_bytes(), challenge.as_bytes())
            {
                return Err(refuse(OAuthError::invalid_grant(
                    "PKCE verification failed: code_verifier does not match the code_challenge",
                )));
            }
        }
        (Some(_), None) => {
            return Err(refuse(OAuthError::invalid_grant(
                "code_verifier is missing: this code was issued with a PKCE code_challenge",
            )))
        }
        (None, Some(_)) => {
            return Err(refuse(OAuthError::invalid_request(
                "code_verifier was sent but the authorization request had no code_challenge",
            )))
        }
        (None, None) => {}
    }
    if !st.session.as_ref().is_some_and(|s| s.is_active()) {
        return Err(refuse(OAuthError::invalid_grant(
            "the session this code belongs to has ended: sign in again",
        )));
    }
    if !st.user.as_ref().is_some_and(|u| u.enabled) {
        return Err(refuse(OAuthError::invalid_grant(
            "the user of this code no longer exists or is disabled",
        )));
    }
    Ok(())
}

/// The grant a valid code starts: a family in the browser's SSO session, or in an offline
/// session of its own (which outlives the browser session) when `offline_access` was granted.
fn start(
    ids: &dyn Ids,
    ctx: &RealmContext,
    client: &Client,
    st: &CodeState,
    now: Timestamp,
) -> latchkey_storage::NewGrant {
    let (session, user) = (st.session.clone(), st.user.as_ref());
    let (session, user) = (session.expect("checked"), user.expect("checked"));
    let scopes = Scopes::from_granted(&st.code.scope, client);
    let issue_refresh = client.use_refresh_tokens();
    if scopes.offline() {
        let offline = new_session(ids, ctx, user, true, st.code.auth_time, now);
        new_grant(ids, ctx, client, offline, true, &scopes, issue_refresh, now)
    } else {
        new_grant(
            ids,
            ctx,
            client,
            session,
            false,
            &scopes,
            issue_refresh,
            now,
        )
    }
}
