//! What a use case fails with: an OAuth error for the client (RFC 6749 §5.2, its description
//! naming the check that failed), or a store failure the adapters answer as "retry shortly".

use latchkey_domain::OAuthError;
use latchkey_storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", .0.description)]
    OAuth(OAuthError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<OAuthError> for Error {
    fn from(e: OAuthError) -> Error {
        Error::OAuth(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
