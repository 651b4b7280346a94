//! Refreshing an Access Token (RFC 6749 §6), with rotation, convergent grace and reuse
//! detection decided by the domain inside one store transaction.

use crate::app::App;
use crate::error::{Error, Result};
use crate::events::Draft;
use crate::params::Params;
use crate::realms::RealmContext;
use crate::tokens::{self, Grant, TokenResponse};
use latchkey_domain::event::types::{error as errors, kind};
use latchkey_domain::model::apply::Notes;
use latchkey_domain::policy::{self, RefreshDecision, RefreshRequest};
use latchkey_domain::scope::{self, Scopes};
use latchkey_domain::{Client, Event, OAuthError, UserEvent};
use latchkey_storage::RefreshOutcome;
use std::sync::Arc;

pub use crate::issued::{PresentedClaims, RefreshClaims};

/// The checks every presented refresh token passes before the store is asked: it is a refresh
/// token this realm issued ([`crate::issued::refresh`]), to this client. Returns its claims.
pub fn verify<C: PresentedClaims>(
    ctx: &RealmContext,
    client_id: &str,
    token: &str,
) -> std::result::Result<C, OAuthError> {
    let claims: C = crate::issued::refresh(ctx, token)
        .map_err(|e| OAuthError::invalid_grant(e).check("token_invalid"))?;
    let azp = claims.claim("azp");
    if azp != client_id {
        return Err(OAuthError::invalid_grant(format!(
            "refresh token was issued to client '{azp}', not to '{client_id}': refresh with the client that obtained it"
        ))
        .check("client_mismatch"));
    }
    Ok(claims)
}

pub async fn grant(
    app: &App,
    ctx: &RealmContext,
    client: &Arc<Client>,
    params: &Params,
    draft: &mut Draft,
) -> Result<TokenResponse> {
    // Keycloak records every refusal of a refresh as `invalid_token`, the cause in `reason`.
    refresh(app, ctx, client, params, draft)
        .await
        .map_err(|e| match e {
            Error::OAuth(o) => {
                // Only a token that was read is counted: a request without one decided nothing.
                if let (false, Some(check)) = (draft.is_settled(), o.check) {
                    app.metrics.refresh(&ctx.realm.name, "rejected", check);
                }
                Error::OAuth(o.event_error(errors::INVALID_TOKEN))
            }
            e => e,
        })
}

async fn refresh(
    app: &App,
    ctx: &RealmContext,
    client: &Arc<Client>,
    params: &Params,
    draft: &mut Draft,
) -> Result<TokenResponse> {
    // §6: the refresh token is required.
    let token = params.require(
        "refresh_token",
        "send the refresh_token from the last token response",
    )?;
    let claims: RefreshClaims = verify(ctx, &client.client_id, token)?;
    let jti = claims.claim("jti");
    let granted_scope = claims.claim("scope");
    draft.detail("refresh_token_id", jti);
    draft.detail("refresh_token_sub", claims.claim("sub"));
    draft.event.session_id = Some(claims.claim("sid").to_string()).filter(|s| !s.is_empty());

    // §6: a requested scope must not exceed the original grant; the refresh token keeps it.
    let granted = Scopes::from_granted(granted_scope, client);
    let scopes = scope::narrow(client, &granted, params.get("scope"))
        .map_err(|e| e.check("scope_not_granted"))?;

    // One atomic step: read the family, its session and user, decide, rotate. The decision
    // also ends the grant of a deleted or disabled user (RFC 6749 §10.4).
    let now = app.now();
    let realm = ctx.realm.clone();
    let c = client.clone();
    let new_jti = app.ids.new_id();
    let scope_kept = granted_scope.to_string();
    let outages = app.outages();
    // The event rides the rotation's transaction, built only when the realm stores it.
    let base = ctx
        .realm
        .events
        .stores_either(kind::REFRESH_TOKEN)
        .then(|| draft.event.clone());
    let decide = Box::new(move |st: &policy::RefreshState| {
        let req = RefreshRequest {
            realm: &realm,
            client: &c,
            now,
            new_jti,
            scope: scope_kept,
            outages: &outages,
        };
        let decision = policy::decide_refresh(&req, st);
        let event = base
            .map(|mut e| {
                describe(&mut e, st, &decision, now);
                e
            })
            .filter(|e| realm.events.stores(&e.kind))
            .map(Event::User);
        (decision, event)
    });
    let pending = app.store.refresh(jti, now, decide).await?;
    if let RefreshOutcome::Decided { state, decision } = pending.value() {
        describe(&mut draft.event, state, decision, now);
        app.count_event(ctx, &draft.event);
        draft.settle();
        let (outcome, check) = outcome(decision);
        app.metrics.refresh(&ctx.realm.name, outcome, check);
    }
    // The tokens are signed while the store flushes the rotation; the client hears of them
    // only once it is on disk.
    let answer = answer(app, ctx, client, &scopes, jti, now, pending.value());
    pending.durable().await?;
    answer
}

/// What Keycloak's refresh event says of a decided refresh: the session's user, the new
/// token's id on success; on refusal the `_ERROR` twin with the description the client gets
/// as `reason`, and latchkey's name of the check as `check`.
fn describe(e: &mut UserEvent, st: &policy::RefreshState, d: &RefreshDecision, now: i64) {
    e.user_id = Some(st.session.user_id.clone());
    e.session_id = Some(st.session.id.clone());
    e.detail(
        "refresh_token_type",
        super::refresh_token_type(st.record.offline),
    );
    match d {
        RefreshDecision::Issue { successor, .. } | RefreshDecision::Replay { successor } => {
            e.detail("updated_refresh_token_id", successor.jti.as_str());
            e.detail("scope", successor.scope.as_str());
            e.detail(
                "age_of_refresh_token",
                (now - st.record.issued_at).to_string(),
            );
        }
        RefreshDecision::Reject(r) => crate::events::failed(e, &r.error()),
    }
}

/// The refresh metric's outcome and check of a decision.
fn outcome(d: &RefreshDecision) -> (&'static str, &'static str) {
    match d {
        RefreshDecision::Issue {
            rotate_presented: true,
            ..
        } => ("rotated", ""),
        RefreshDecision::Issue { .. } => ("issued", ""),
        RefreshDecision::Replay { .. } => ("replayed", ""),
        RefreshDecision::Reject(r) if r.revoke_family.is_some() => {
            ("reuse_detected", r.check.name())
        }
        RefreshDecision::Reject(r) => ("rejected", r.check.name()),
    }
}

/// The response to a decided refresh: the tokens of an issued or replayed successor, or the
/// decision's error.
fn answer(
    app: &App,
    ctx: &RealmContext,
    client: &Arc<Client>,
    scopes: &Scopes,
    jti: &str,
    now: latchkey_domain::Timestamp,
    outcome: &RefreshOutcome,
) -> Result<TokenResponse> {
    let (state_read, decision) = match outcome {
        RefreshOutcome::Unknown => {
            return Err(OAuthError::invalid_grant(format!(
                "refresh token {jti} is not known to this server: it was never issued here, or its records were removed"
            ))
            .check("unknown_token")
            .into())
        }
        RefreshOutcome::Decided { state, decision } => (state, decision),
    };
    let successor = match decision {
        RefreshDecision::Issue { successor, .. } => successor,
        RefreshDecision::Replay { successor } => successor,
        RefreshDecision::Reject(rejection) => {
            if rejection.revoke_family.is_some() {
                tracing::warn!(jti = %jti, client = %client.client_id, check = rejection.check.name(), "refresh token reuse detected; family revoked");
            }
            return Err(rejection.error().into());
        }
    };
    let sid = &state_read.session.id;
    let user = state_read
        .user
        .as_ref()
        .expect("the decision refuses a missing user");
    let refresh = client.use_refresh_tokens().then_some(successor);
    tokens::mint(
        ctx,
        &Grant {
            ids: &*app.ids,
            client,
            user,
            sid: Some(sid),
            scopes,
            auth_time: Some(state_read.session.auth_time),
            nonce: None,
            refresh,
            now,
            notes: Notes::default(),
        },
    )
}
