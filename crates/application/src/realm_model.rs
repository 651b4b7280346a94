//! Changing a realm's roles, groups and client scopes: read, change, check that the model
//! still compiles (no undefined composite, no cycle), and write only if nobody changed the
//! realm meanwhile — else read again. Every change is one compare-and-swap of the realm.

use latchkey_domain::model::{RealmAccess, RealmModel};
use latchkey_domain::Client;
use latchkey_storage::{Store, StoreError};

/// Why a change was not made.
#[derive(Debug)]
pub enum ChangeError {
    /// The thing named does not exist (404).
    NotFound(String),
    /// The change is not valid (400).
    Invalid(String),
    /// It exists already (409).
    Conflict(String),
    Store(StoreError),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        ChangeError::Store(e)
    }
}

/// How often a change is tried again when other changes keep landing first.
const ATTEMPTS: usize = 16;

/// Applies `change` to the realm's model and stores it. `change` may run more than once.
pub async fn change<T>(
    store: &dyn Store,
    realm_id: &str,
    mut change: impl FnMut(&mut RealmAccess, &[Client]) -> Result<T, ChangeError>,
) -> Result<T, ChangeError> {
    for _ in 0..ATTEMPTS {
        let before = store
            .realm_by_id(realm_id)
            .await?
            .ok_or_else(|| ChangeError::NotFound("realm not found".into()))?;
        let clients = store.clients(realm_id).await?;
        let mut after = before.clone();
        // The copy to change (`before` keeps its own, for the compare-and-swap).
        let access = std::sync::Arc::make_mut(&mut after.access);
        for c in &clients {
            access
                .roles
                .client
                .entry(c.client_id.clone())
                .or_insert_with(|| latchkey_domain::model::legacy_roles(c));
        }
        let out = change(access, &clients)?;
        after.realm_roles = after.access.realm_role_names();
        let refs: Vec<&Client> = clients.iter().collect();
        RealmModel::build(&after.access, &refs).map_err(ChangeError::Invalid)?;
        if store.replace_realm(&before, after).await? {
            return Ok(out);
        }
        // A realm stored by an earlier version is written in another form than this version
        // writes it, so the swap never matches: when what is stored still reads as `before`,
        // store it in this version's form once, and try again.
        if store.realm_by_id(realm_id).await?.as_ref() == Some(&before) {
            store.update_realm(before).await?;
        }
    }
    Err(ChangeError::Conflict(
        "the realm kept changing under this request; try again".into(),
    ))
}
