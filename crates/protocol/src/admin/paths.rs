//! The admin API's path parameters: a realm, a realm and an id, a realm, an id and a client.

use super::AdminError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

fn bad_path() -> AdminError {
    AdminError::not_found("the path contains a segment that is not valid UTF-8")
}

/// `{realm}`.
pub struct RealmPath(pub String);
/// `{realm}` and `{id}`.
pub struct RealmIdPath(pub String, pub String);
/// `{realm}`, `{id}` and `{client}`.
pub struct RealmIdClientPath(pub String, pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for RealmPath {
    type Rejection = AdminError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(realm) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| bad_path())?;
        Ok(RealmPath(realm))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RealmIdPath {
    type Rejection = AdminError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((realm, id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| bad_path())?;
        Ok(RealmIdPath(realm, id))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RealmIdClientPath {
    type Rejection = AdminError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((realm, id, client)) =
            Path::<(String, String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| bad_path())?;
        Ok(RealmIdClientPath(realm, id, client))
    }
}
