//! The user event of a client's request to an endpoint: made with the realm, the client as
//! presented and the caller's address, a failed client authentication recorded as Keycloak
//! records it, and whatever the use case left unrecorded settled by the request's outcome.

use crate::client_auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::http::HeaderMap;
use latchkey_application::events::Draft;
use latchkey_application::realms::RealmContext;
use latchkey_application::Params;
use latchkey_domain::Client;
use std::net::IpAddr;
use std::sync::Arc;

/// A new event of `kind` for a request that presents a client in `headers` or `params`.
pub fn draft(
    state: &AppState,
    ctx: &RealmContext,
    kind: &str,
    headers: &HeaderMap,
    params: &Params,
    addr: Option<IpAddr>,
) -> Draft {
    let mut event = state.user_event(ctx, kind);
    event.client_id = client_auth::presented(headers, params, &ctx.realm.name)
        .ok()
        .flatten()
        .map(|p| p.client_id);
    if let Some(c) = event
        .client_id
        .as_deref()
        .filter(|c| ctx.client(c).is_some())
    {
        crate::telemetry::note_client(c);
    }
    event.ip_address = addr.map(|a| a.to_string());
    Draft::new(event)
}

/// Authenticates the request's client; a failure is recorded on the event.
pub async fn authenticate(
    state: &AppState,
    ctx: &RealmContext,
    draft: &mut Draft,
    headers: &HeaderMap,
    params: &Params,
) -> ApiResult<Arc<Client>> {
    match client_auth::authenticate(ctx, headers, params) {
        Ok(c) => {
            if c.is_confidential() {
                draft.detail("client_auth_method", "client-secret");
            }
            Ok(c)
        }
        Err(e) => {
            draft.fail(state, ctx, &e.error).await;
            Err(e)
        }
    }
}

/// Records what the use case left unrecorded: a success, or the error it answers with.
pub async fn settle<T>(
    state: &AppState,
    ctx: &RealmContext,
    draft: &mut Draft,
    result: ApiResult<T>,
) -> ApiResult<T> {
    match result {
        Ok(v) => {
            draft.succeed(state, ctx).await;
            Ok(v)
        }
        Err(e) => {
            draft.fail(state, ctx, &e.error).await;
            Err(e)
        }
    }
}

/// [`settle`] for a use case's own error type.
pub async fn settle_app<T>(
    state: &AppState,
    ctx: &RealmContext,
    draft: &mut Draft,
    result: latchkey_application::Result<T>,
) -> ApiResult<T> {
    settle(state, ctx, draft, result.map_err(ApiError::from)).await
}
