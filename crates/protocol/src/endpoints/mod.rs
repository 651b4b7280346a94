//! HTTP endpoints under `/realms/{realm}` and `/health`.

pub mod certs;
pub mod discovery;
pub mod health;
pub mod introspect;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod userinfo;

use crate::error::ApiResult;
use crate::realms::RealmContext;
use crate::state::AppState;
use latchkey_domain::{ErrorCode, OAuthError};
use std::sync::Arc;

/// The realm a path names; 404 when it does not exist or is disabled.
pub async fn realm(state: &AppState, name: &str) -> ApiResult<Arc<RealmContext>> {
    let ctx = state.realms.get(name, || state.issuer(name)).await?;
    match ctx {
        Some(ctx) if ctx.realm.enabled => Ok(ctx),
        Some(_) => {
            Err(OAuthError::new(ErrorCode::NotFound, format!("realm '{name}' is disabled")).into())
        }
        None => Err(OAuthError::new(
            ErrorCode::NotFound,
            format!("realm '{}' does not exist", crate::error::sanitize(name)),
        )
        .into()),
    }
}
