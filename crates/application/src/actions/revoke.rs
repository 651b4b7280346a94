//! Token revocation (RFC 7009). A refresh token takes its whole family (every refresh token of
//! that login, and the access tokens of that grant) with it; an access token is revoked alone.
//! Invalid, unknown or expired tokens are no error, as §2.2 requires; another client's token is
//! refused and left alone (§2.1).

use crate::app::App;
use crate::error::Result;
use crate::events::Draft;
use crate::issued::{self, Kind};
use crate::realms::RealmContext;
use latchkey_domain::event::types::error as errors;
use latchkey_domain::{Client, OAuthError};
use serde_json::Value;

pub async fn revoke(
    app: &App,
    ctx: &RealmContext,
    client: &Client,
    token: &str,
    draft: &mut Draft,
) -> Result<()> {
    let Ok((kind, claims)) = issued::read(ctx, token) else {
        // §2.2: answered as a success; Keycloak records it as an error all the same.
        let mut e = draft.event.clone();
        e.fail(errors::INVALID_TOKEN);
        draft.settle();
        app.emit(ctx, e).await;
        return Ok(());
    };
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    let (jti, azp) = (claim("jti"), claim("azp"));
    if azp != client.client_id {
        return Err(OAuthError::invalid_grant(format!(
            "token was issued to client '{azp}', not to '{}': it was not revoked",
            client.client_id
        ))
        .event_error(errors::INVALID_REQUEST)
        .into());
    }
    let now = app.now();
    match kind {
        Kind::Refresh => {
            let Some(st) = app.store.refresh_state(jti).await? else {
                return Ok(());
            };
            let reason = format!(
                "revoked by client '{}' through the revocation endpoint",
                client.client_id
            );
            draft.event.user_id = Some(st.session.user_id.clone());
            draft.event.session_id = Some(st.session.id.clone());
            draft.detail("revoked_client", client.client_id.as_str());
            draft.detail("refresh_token_id", jti);
            draft.detail(
                "refresh_token_type",
                crate::grants::refresh_token_type(st.record.offline),
            );
            let event = draft.with_change(app, ctx);
            app.store
                .revoke_family(&st.client_session.id, now, &reason, event)
                .await?;
        }
        Kind::Access => {
            let exp = claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            draft.detail("token_id", jti);
            if exp > now {
                app.store.revoke_access_token(jti, exp).await?;
            }
        }
    }
    Ok(())
}
