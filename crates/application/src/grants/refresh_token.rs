//! Refreshing an Access Token (RFC 6749 §6), with rotation, convergent grace and reuse
//! detection decided by the domain inside one store transaction.

use crate::app::App;
use crate::error::Result;
use crate::params::Params;
use crate::realms::RealmContext;
use crate::tokens::{self, Grant, TokenResponse};
use latchkey_domain::model::apply::Notes;
use latchkey_domain::policy::{self, RefreshDecision, RefreshRequest};
use latchkey_domain::scope::{self, Scopes};
use latchkey_domain::{Client, OAuthError};
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
    let claims: C = crate::issued::refresh(ctx, token).map_err(OAuthError::invalid_grant)?;
    let azp = claims.claim("azp");
    if azp != client_id {
        return Err(OAuthError::invalid_grant(format!(
            "refresh token was issued to client '{azp}', not to '{client_id}': refresh with the client that obtained it"
        )));
    }
    Ok(claims)
}

pub async fn grant(
    app: &App,
    ctx: &RealmContext,
    client: &Arc<Client>,
    params: &Params,
) -> Result<TokenResponse> {
    // §6: the refresh token is required.
    let token = params.require(
        "refresh_token",
        "send the refresh_token from the last token response",
    )?;
    let claims: RefreshClaims = verify(ctx, &client.client_id, token)?;
    let jti = claims.claim("jti");
    let granted_scope = claims.claim("scope");

    // §6: a requested scope must not exceed the original grant; the refresh token keeps it.
    let granted = Scopes::from_granted(granted_scope, client);
    let scopes = scope::narrow(client, &granted, params.get("scope"))?;

    // One atomic step: read the family, its session and user, decide, rotate. The decision
    // also ends the grant of a deleted or disabled user (RFC 6749 §10.4).
    let now = app.now();
    let realm = ctx.realm.clone();
    let c = client.clone();
    let new_jti = app.ids.new_id();
    let scope_kept = granted_scope.to_string();
    let outages = app.outages();
    let decide = Box::new(move |st: &policy::RefreshState| {
        let req = RefreshRequest {
            realm: &realm,
            client: &c,
            now,
            new_jti,
            scope: scope_kept,
            outages: &outages,
        };
        policy::decide_refresh(&req, st)
    });
    let pending = app.store.refresh(jti, now, decide).await?;
    // The tokens are signed while the store flushes the rotation; the client hears of them
    // only once it is on disk.
    let answer = answer(app, ctx, client, &scopes, jti, now, pending.value());
    pending.durable().await?;
    answer
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
