//! Resource Owner Password Credentials grant (RFC 6749 §4.3). Kept for migration from Keycloak:
//! a client must opt in with `directAccessGrantsEnabled`.

use super::start_login;
use crate::app::App;
use crate::error::Result;
use crate::events::Draft;
use crate::params::Params;
use crate::realms::RealmContext;
use crate::sign_in::{self, Refusal};
use crate::tokens::{self, Grant, TokenResponse};
use latchkey_domain::event::types::error as errors;
use latchkey_domain::model::apply::Notes;
use latchkey_domain::{scope, Client, OAuthError};

pub async fn grant(
    app: &App,
    ctx: &RealmContext,
    client: &Client,
    params: &Params,
    addr: Option<std::net::IpAddr>,
    draft: &mut Draft,
) -> Result<TokenResponse> {
    draft.detail("auth_method", "openid-connect");
    // §4.3.2: the client must be allowed to use this grant.
    if !client.direct_access_grants_enabled {
        return Err(OAuthError::unauthorized_client(format!(
            "client '{}' may not use the password grant: enable 'directAccessGrantsEnabled' (Direct access grants) for it",
            client.client_id
        ))
        .event_error(errors::NOT_ALLOWED)
        .into());
    }
    let username = params.require("username", "the password grant needs username and password")?;
    draft.detail("username", username);
    let password = params.require("password", "the password grant needs username and password")?;
    let scopes = scope::resolve(client, params.get("scope"))?;

    // §4.3.2: validate the resource owner credentials, with brute-force protection (§4.3.2, RFC 9700 §2.4).
    let user = match sign_in::check(app, &ctx.realm, username, password, addr).await {
        Ok(user) => user,
        Err(Refusal::Locked(message)) => {
            return Err(OAuthError::invalid_grant(message)
                .event_error(errors::USER_TEMPORARILY_DISABLED)
                .into())
        }
        Err(Refusal::BadCredentials { why, user_id }) => {
            draft.event.user_id = user_id;
            return Err(OAuthError::invalid_grant(
                "invalid user credentials: the username or the password is wrong",
            )
            .with_status(401)
            .event_error(why)
            .into());
        }
        Err(Refusal::Store(e)) => return Err(e.into()),
    };

    // §4.3.3: issue tokens, with a refresh token unless the client turned them off.
    let now = app.now();
    let started = start_login(
        app,
        ctx,
        client,
        &user,
        &scopes,
        client.use_refresh_tokens(),
        now,
        draft,
    )
    .await?;
    tokens::mint(
        ctx,
        &Grant {
            ids: &*app.ids,
            client,
            user: &user,
            sid: Some(&started.session.id),
            scopes: &scopes,
            auth_time: Some(now),
            nonce: None,
            refresh: started.refresh.as_ref(),
            now,
            notes: Notes::default(),
        },
    )
}
