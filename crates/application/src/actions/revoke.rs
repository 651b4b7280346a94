//! Token revocation (RFC 7009). A refresh token takes its whole family (every refresh token of
//! that login, and the access tokens of that grant) with it; an access token is revoked alone.
//! Invalid, unknown or expired tokens are no error, as §2.2 requires; another client's token is
//! refused and left alone (§2.1).

use crate::app::App;
use crate::error::Result;
use crate::issued::{self, Kind};
use crate::realms::RealmContext;
use latchkey_domain::{Client, Event, EventKind, OAuthError};
use serde_json::{json, Value};

pub async fn revoke(app: &App, ctx: &RealmContext, client: &Client, token: &str) -> Result<()> {
    let Ok((kind, claims)) = issued::read(ctx, token) else {
        return Ok(());
    };
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    let (jti, azp) = (claim("jti"), claim("azp"));
    if azp != client.client_id {
        return Err(OAuthError::invalid_grant(format!(
            "token was issued to client '{azp}', not to '{}': it was not revoked",
            client.client_id
        ))
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
            let event = Event::new(
                EventKind::RevokeGrant,
                &ctx.realm.id,
                now,
                json!({"client_id": client.client_id, "sid": st.session.id, "family": st.client_session.id, "jti": jti}),
            );
            app.store
                .revoke_family(&st.client_session.id, now, &reason, Some(event))
                .await?;
        }
        Kind::Access => {
            let exp = claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            if exp > now {
                app.store.revoke_access_token(jti, exp).await?;
            }
        }
    }
    Ok(())
}
