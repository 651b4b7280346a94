//! Authorization Code grant, token request (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5-4.6).
//! A code is single-use: it is redeemed in one transaction that reads it, judges it and starts
//! the grant, so a replay — whenever it arrives — finds it used and revokes what the first
//! exchange issued (§4.1.2, §10.5).

use super::{new_grant, new_session};
use crate::app::App;
use crate::error::Result;
use crate::events::Draft;
use crate::ids::Ids;
use crate::params::Params;
use crate::realms::RealmContext;
use crate::tokens::{self, Grant, TokenResponse};
use latchkey_domain::claims::format_timestamp;
use latchkey_domain::event::types::error as errors;
use latchkey_domain::model::apply::Notes;
use latchkey_domain::scope::Scopes;
use latchkey_domain::{authorize, Client, Event, OAuthError, Timestamp, UserEvent};
use latchkey_storage::{CodeDecision, CodeState, NewGrant};
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
    draft: &mut Draft,
) -> Result<TokenResponse> {
    let code = params.require("code", "send the code from the authorization response")?;
    let now = app.now();
    let presented = Presented {
        redirect_uri: params.get("redirect_uri").map(str::to_string),
        code_verifier: params.get("code_verifier").map(str::to_string),
    };
    let (c, cl, ids) = (ctx.clone(), client.clone(), app.ids.clone());
    // The event rides the redemption's transaction; what it says is said again below for
    // the metrics and the log, from what the store hands back.
    let base = draft.event.clone();
    let decide = Box::new(move |st: &CodeState| {
        let mut event = base;
        match check(&cl, &presented, st, now) {
            Ok(()) => {
                let mut grant = start(&*ids, &c, &cl, st, now);
                describe(&mut event, &grant, st, &cl);
                grant.event = stored(&c, event);
                CodeDecision::Redeem(Box::new(grant))
            }
            Err(CodeDecision::Refuse {
                error,
                revoke_family,
                ..
            }) => {
                describe_code(&mut event, st);
                crate::events::failed(&mut event, &error);
                let event = stored(&c, event).map(Box::new);
                CodeDecision::Refuse {
                    error,
                    revoke_family,
                    event,
                }
            }
            Err(other) => other,
        }
    });
    let redeemed = app.store.redeem_code(&code_hash(code), now, decide).await?;
    let Some((st, decision)) = redeemed else {
        return Err(OAuthError::invalid_grant(
            "authorization code is not valid: it was never issued here or has expired",
        )
        .event_error(errors::INVALID_CODE)
        .into());
    };
    let grant = match decision {
        CodeDecision::Redeem(grant) => {
            describe(&mut draft.event, &grant, &st, client);
            app.count_event(ctx, &draft.event);
            draft.settle();
            grant
        }
        CodeDecision::Refuse { error, .. } => {
            describe_code(&mut draft.event, &st);
            let mut counted = draft.event.clone();
            crate::events::failed(&mut counted, &error);
            app.count_event(ctx, &counted);
            draft.settle();
            return Err(error.into());
        }
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

fn refuse(error: OAuthError, why: &'static str) -> CodeDecision {
    CodeDecision::Refuse {
        error: error.event_error(why),
        revoke_family: None,
        event: None,
    }
}

/// The event, when the realm stores its type.
fn stored(ctx: &RealmContext, event: UserEvent) -> Option<Event> {
    ctx.realm
        .events
        .stores(&event.kind)
        .then_some(Event::User(event))
}

/// What the event of a code's exchange says of the code: its user and session.
fn describe_code(e: &mut UserEvent, st: &CodeState) {
    e.user_id = Some(st.code.user_id.clone());
    e.session_id = Some(st.code.session_id.clone());
    e.detail("redirect_uri", st.code.redirect_uri.as_str());
}

/// What the event of a successful exchange says (Keycloak's `CODE_TO_TOKEN`).
fn describe(e: &mut UserEvent, grant: &NewGrant, st: &CodeState, client: &Client) {
    describe_code(e, st);
    super::describe_login(e, grant, &Scopes::from_granted(&st.code.scope, client));
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
            ))
            .event_error(errors::INVALID_CODE),
            revoke_family: Some("authorization code was used twice".into()),
            event: None,
        });
    }
    if rec.client_id != client.client_id {
        return Err(refuse(
            OAuthError::invalid_grant(format!(
                "authorization code was issued to client '{}', not to '{}'",
                rec.client_id, client.client_id
            )),
            errors::INVALID_CLIENT,
        ));
    }
    if rec.expires_at <= now {
        return Err(refuse(
            OAuthError::invalid_grant(format!(
                "authorization code expired at {}: exchange codes as soon as they arrive",
                format_timestamp(rec.expires_at)
            )),
            errors::EXPIRED_CODE,
        ));
    }
    // §4.1.3: redirect_uri identical to the authorization request's, when that had one.
    match (presented.redirect_uri.as_deref(), rec.redirect_uri_sent) {
        (Some(u), _) if u != rec.redirect_uri => {
            return Err(refuse(OAuthError::invalid_grant(format!(
                "redirect_uri '{u}' differs from the one of the authorization request ('{}')",
                rec.redirect_uri
            )), errors::INVALID_REDIRECT_URI))
        }
        (None, true) => return Err(refuse(OAuthError::invalid_grant(
            "redirect_uri is missing: send the same redirect_uri as in the authorization request",
        ), errors::INVALID_REDIRECT_URI)),
        _ => {}
    }
    // RFC 7636 §4.6.
    match (&rec.code_challenge, presented.code_verifier.as_deref()) {
        (Some(challenge), Some(verifier)) => {
            let computed = latchkey_crypto::b64url(latchkey_crypto::sha256(verifier.as_bytes()));
            if !authorize::verifier_ok(verifier)
                || !latchkey_crypto::ct_eq(computed.as_bytes(), challenge.as_bytes())
            {
                return Err(refuse(
                    OAuthError::invalid_grant(
                        "PKCE verification failed: code_verifier does not match the code_challenge",
                    ),
                    errors::INVALID_CODE_VERIFIER,
                ));
            }
        }
        (Some(_), None) => {
            return Err(refuse(
                OAuthError::invalid_grant(
                    "code_verifier is missing: this code was issued with a PKCE code_challenge",
                ),
                errors::CODE_VERIFIER_MISSING,
            ))
        }
        (None, Some(_)) => {
            return Err(refuse(
                OAuthError::invalid_request(
                    "code_verifier was sent but the authorization request had no code_challenge",
                ),
                errors::INVALID_CODE_VERIFIER,
            ))
        }
        (None, None) => {}
    }
    if !st.session.as_ref().is_some_and(|s| s.is_active()) {
        return Err(refuse(
            OAuthError::invalid_grant("the session this code belongs to has ended: sign in again"),
            errors::USER_SESSION_NOT_FOUND,
        ));
    }
    if !st.user.as_ref().is_some_and(|u| u.enabled) {
        return Err(refuse(
            OAuthError::invalid_grant("the user of this code no longer exists or is disabled"),
            errors::USER_DISABLED,
        ));
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
