//! Client Credentials grant (RFC 6749 §4.4): a confidential client acting for itself, as its
//! service-account user `service-account-<clientId>`. A refresh token is issued only when the
//! client sets `client_credentials.use_refresh_token` or asks for `offline_access`.

use super::start_login;
use crate::app::App;
use crate::error::Result;
use crate::events::Draft;
use crate::params::Params;
use crate::provision;
use crate::realms::RealmContext;
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
    // §4.4: only confidential clients; Keycloak also requires a service account.
    if client.public_client {
        return Err(OAuthError::unauthorized_client(format!(
            "client '{}' is public: the client_credentials grant needs a confidential client",
            client.client_id
        ))
        .event_error(errors::INVALID_CLIENT)
        .into());
    }
    if !client.service_accounts_enabled {
        return Err(OAuthError::unauthorized_client(format!(
            "client '{}' may not use the client_credentials grant: enable 'serviceAccountsEnabled' (Service accounts) for it",
            client.client_id
        ))
        .event_error(errors::INVALID_CLIENT)
        .into());
    }
    let scopes = scope::resolve(client, params.get("scope"))?;
    let (user, _) = provision::ensure_service_account(
        app.store.as_ref(),
        &ctx.realm,
        client,
        app.now(),
        |_| {},
    )
    .await?;
    draft.event.user_id = Some(user.id.clone());
    draft.detail("username", user.username.as_str());
    if !user.enabled {
        return Err(OAuthError::invalid_grant(format!(
            "service-account user '{}' is disabled",
            user.username
        ))
        .event_error(errors::USER_DISABLED)
        .into());
    }
    let now = app.now();
    let address = addr.map(|a| a.to_string());
    // The notes Keycloak sets on a service account's session (its session-note mappers).
    let notes = Notes {
        client_address: address.as_deref(),
        service_account: true,
        auth_time: Some(now),
    };
    let wants_refresh = client.use_refresh_tokens()
        && (client.client_credentials_use_refresh_token() || scopes.offline());
    if !wants_refresh {
        draft.detail("scope", scopes.to_scope_string());
        return tokens::mint(
            ctx,
            &Grant {
                ids: &*app.ids,
                client,
                user: &user,
                sid: None,
                scopes: &scopes,
                auth_time: None,
                nonce: None,
                refresh: None,
                now,
                notes,
            },
        );
    }
    // §4.4.3 allows no refresh token; Keycloak issues one on request, bound to a session.
    let started = start_login(app, ctx, client, &user, &scopes, true, now, draft).await?;
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
            notes,
        },
    )
}
