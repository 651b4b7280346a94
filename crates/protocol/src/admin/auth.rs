//! Who calls the admin API: the user of a bearer access token that a realm of this server
//! issued, through any of its clients, checked as every access token is (signature, expiry,
//! revocation) and read back from the store, so a role taken away or a user disabled counts at
//! once. What the caller may then do is `latchkey_domain::admin_access`'s rule. No token or a
//! token that fails its checks → 401; a good token without the role → 403.

use super::AdminError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use latchkey_application::access::{self, Invalid};
use latchkey_domain::admin_access::{Caller, Permission};
use latchkey_domain::User;
use serde_json::Value;
use std::sync::Arc;

/// The authenticated caller.
pub struct Admin {
    /// The realm that issued the token.
    pub realm: String,
    /// The caller, holding directly every role it holds through composites and groups.
    pub user: User,
}

impl Admin {
    pub fn username(&self) -> &str {
        &self.user.username
    }

    fn caller(&self) -> Caller<'_> {
        Caller {
            realm: &self.realm,
            user: &self.user,
        }
    }

    /// 403 unless the caller may do `p` in realm `target`.
    pub fn require(&self, target: &str, p: Permission) -> Result<(), AdminError> {
        if self.caller().may(target, p) {
            return Ok(());
        }
        Err(AdminError::new(
            StatusCode::FORBIDDEN,
            self.caller().refusal(target, p),
        ))
    }

    pub fn require_create_realm(&self) -> Result<(), AdminError> {
        if self.caller().may_create_realm() {
            return Ok(());
        }
        Err(AdminError::new(
            StatusCode::FORBIDDEN,
            format!(
                "user '{}' of realm '{}' may not create realms: that needs the realm role \
                 'create-realm' or 'admin' of realm 'master'",
                self.user.username, self.realm
            ),
        ))
    }

    /// 403 when `after` gains an administrative role over `before` that the caller may not give.
    pub fn require_grantable(
        &self,
        target: &str,
        before: &User,
        after: &User,
    ) -> Result<(), AdminError> {
        match self.caller().ungrantable(target, before, after) {
            None => Ok(()),
            Some(why) => Err(AdminError::new(StatusCode::FORBIDDEN, why)),
        }
    }

    /// 403 unless the caller could have given `user` every role it holds: what a caller must
    /// be able to do to create such a user, or to control the credentials of a client whose
    /// service account it is (else managing clients would be a way to borrow realm-admin).
    pub fn require_may_hold(&self, target: &str, user: &User) -> Result<(), AdminError> {
        let nobody = User {
            realm_roles: vec![],
            client_roles: Default::default(),
            groups: vec![],
            ..user.clone()
        };
        self.require_grantable(target, &nobody, user)
    }

    /// Whether realm `target` is listed to the caller.
    pub fn sees(&self, target: &str) -> bool {
        self.caller().sees(target)
    }
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: String| AdminError::new(StatusCode::UNAUTHORIZED, m);
        let token =
            crate::authorization::bearer(&parts.headers).map_err(|m| unauthorized(m.into()))?;
        let prefix = format!("{}/realms/", state.public_url);
        let issuer = latchkey_crypto::jws::parse(token)
            .ok()
            .and_then(|p| {
                p.claims
                    .get("iss")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .ok_or_else(|| {
                unauthorized(
                    "bearer token rejected: it is not a signed JWT with an 'iss' claim".into(),
                )
            })?;
        let realm = issuer
            .strip_prefix(&prefix)
            .filter(|r| latchkey_domain::realm::valid_name(r))
            .ok_or_else(|| {
                unauthorized(format!(
                    "bearer token rejected: it was issued by '{}', not by a realm of this server ({prefix}…)",
                    latchkey_domain::sanitize(&issuer)
                ))
            })?
            .to_string();
        let Some(ctx) = state.realms.get(&realm, || state.issuer(&realm)).await? else {
            return Err(unauthorized(format!(
                "bearer token rejected: realm '{realm}' does not exist"
            )));
        };
        let claims = match access::validate(&ctx, state.store.as_ref(), token, state.now()).await {
            Ok(c) => c,
            Err(Invalid::Reason(r)) => {
                return Err(unauthorized(format!("bearer token rejected: {r}")))
            }
            Err(Invalid::Store(e)) => return Err(e.into()),
        };
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        let user = state.store.user_by_id(&ctx.realm.id, sub).await?;
        let Some(user) = user.filter(|u| u.enabled) else {
            return Err(AdminError::new(
                StatusCode::FORBIDDEN,
                "the user of this token no longer exists or is disabled".to_string(),
            ));
        };
        // Who made a change, for its admin event (Keycloak records the client's internal id).
        if let Some(slot) = parts.extensions.get::<super::events::Caller>() {
            let azp = claims.get("azp").and_then(Value::as_str).unwrap_or("");
            let ip = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| state.proxy.client(c.0.ip(), &parts.headers).to_string());
            let _ = slot.0.set(latchkey_domain::AuthDetails {
                realm_id: Some(ctx.realm.id.clone()),
                client_id: ctx.client(azp).map(|c| c.id.clone()),
                user_id: Some(user.id.clone()),
                ip_address: ip,
            });
        }
        // Roles held through groups and composites count, as in Keycloak.
        let user = super::model::effective(&ctx, &user);
        Ok(Admin { realm, user })
    }
}
