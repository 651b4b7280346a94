//! The non-browser logout that python-keycloak and keycloak-connect use: a client presents a
//! refresh token; its session ends and every refresh token of it is revoked, with the LOGOUT
//! event in the same transaction. Offline sessions are separate and survive the logout of the
//! browser session.

use crate::app::App;
use crate::error::Result;
use crate::events::Draft;
use crate::grants::refresh_token;
use crate::issued::{PresentedClaims, RefreshClaims};
use crate::realms::RealmContext;
use latchkey_domain::event::types::error as errors;
use latchkey_domain::Client;
use latchkey_domain::OAuthError;

pub async fn logout(
    app: &App,
    ctx: &RealmContext,
    client: &Client,
    token: &str,
    draft: &mut Draft,
) -> Result<()> {
    let claims: RefreshClaims = refresh_token::verify(ctx, &client.client_id, token)
        .map_err(|e| e.event_error(errors::INVALID_TOKEN))?;
    let Some(st) = app.store.refresh_state(claims.claim("jti")).await? else {
        return Err(OAuthError::invalid_grant("refresh token is not known to this server").into());
    };
    let now = app.now();
    draft.event.user_id = Some(st.session.user_id.clone());
    draft.event.session_id = Some(st.session.id.clone());
    if let Some(at) = st.session.ended_at {
        return Err(OAuthError::invalid_grant(format!(
            "session {} already ended at {}",
            st.session.id,
            latchkey_domain::claims::format_timestamp(at)
        ))
        .into());
    }
    let reason = format!("logged out by client '{}'", client.client_id);
    let event = draft.with_change(app, ctx);
    app.store
        .end_session(&st.session.id, now, &reason, event)
        .await?;
    Ok(())
}
