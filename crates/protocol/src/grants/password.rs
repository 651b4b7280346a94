//! Resource Owner Password Credentials grant (RFC 6749 §4.3). Kept for migration from Keycloak:
//! a client must opt in with `directAccessGrantsEnabled`.

use super::start_login;
use crate::error::{ApiError, ApiResult};
use crate::form::Params;
use crate::realms::RealmContext;
use crate::state::AppState;
use crate::tokens::{self, Grant, TokenResponse};
use latchkey_crypto::password::Verification;
use latchkey_domain::{scope, Client, OAuthError};

pub async fn grant(
    state: &AppState,
    ctx: &RealmContext,
    client: &Client,
    params: &Params,
    addr: Option<std::net::IpAddr>,
) -> ApiResult<TokenResponse> {
    // §4.3.2: the client must be allowed to use this grant.
    if !client.direct_access_grants_enabled {
        return Err(OAuthError::unauthorized_client(format!(
            "client '{}' may not use the password grant: enable 'directAccessGrantsEnabled' (Direct access grants) for it",
            client.client_id
        ))
        .into());
    }
    let username = params.require("username", "the password grant needs username and password")?;
    let password = params.require("password", "the password grant needs username and password")?;
    let scopes = scope::resolve(client, params.get("scope"))?;

    // §4.3.2: validate the resource owner credentials, with brute-force protection (§4.3.2, RFC 9700 §2.4).
    let throttle = crate::throttle::Settings::for_realm(&ctx.realm);
    let found = crate::sign_in::find_user(state.store.as_ref(), &ctx.realm, username).await?;
    let account = crate::sign_in::account_key(found.as_ref(), username);
    if let Err(locked) = state
        .throttle
        .check(&throttle, &ctx.realm.name, &account, addr)
    {
        return Err(OAuthError::invalid_grant(locked.message()).into());
    }
    let fail = |state: &AppState| {
        state
            .throttle
            .failure(&throttle, &ctx.realm.name, &account, addr)
    };
    let bad_credentials = || -> ApiError {
        fail(state);
        OAuthError::invalid_grant("invalid user credentials: the username or the password is wrong")
            .with_status(401)
            .into()
    };
    let Some(found) = found else {
        state.passwords.verify_dummy(password.to_string()).await;
        return Err(bad_credentials());
    };
    let Some(hash) = found.password_hash.clone() else {
        state.passwords.verify_dummy(password.to_string()).await;
        return Err(bad_credentials());
    };
    let verdict = state.passwords.verify(password.to_string(), hash).await.map_err(|e| {
        tracing::error!(user = %found.user.username, error = %e, "stored password hash unreadable");
        bad_credentials()
    })?;
    let user = found.user;
    if matches!(verdict, Verification::Match { .. }) {
        state.throttle.success(&ctx.realm.name, &account);
    }
    match verdict {
        Verification::Mismatch => return Err(bad_credentials()),
        Verification::Match { needs_rehash } => {
            if needs_rehash {
                rehash(state, &user.id, password.to_string()).await;
            }
        }
    }
    if !user.enabled {
        return Err(OAuthError::invalid_grant(format!(
            "user '{}' is disabled in realm '{}'",
            user.username, ctx.realm.name
        ))
        .into());
    }

    // §4.3.3: issue tokens, with a refresh token unless the client turned them off.
    let now = crate::now();
    let started = start_login(
        state,
        ctx,
        client,
        &user,
        &scopes,
        client.use_refresh_tokens(),
        now,
    )
    .await?;
    tokens::mint(
        ctx,
        &Grant {
            client,
            user: &user,
            sid: Some(&started.session.id),
            scopes: &scopes,
            auth_time: Some(now),
            nonce: None,
            refresh: started.refresh.as_ref(),
            now,
        },
    )
}

/// Re-hashes an imported or outdated hash to our parameters after a successful login.
async fn rehash(state: &AppState, user_id: &str, password: String) {
    match state.passwords.hash(password).await {
        Ok(h) => {
            if let Err(e) = state.store.set_password_hash(user_id, &h).await {
                tracing::warn!(error = %e, "could not store re-hashed password");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not re-hash password"),
    }
}
