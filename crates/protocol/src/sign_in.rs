//! Which user a sign-in name names, for the login page and the password grant alike.

use latchkey_domain::Realm;
use latchkey_storage::{Result, Store, UserWithCredential};

/// Keycloak's rule: where the realm allows sign-in with an email address
/// (`loginWithEmailAllowed`, emails unique), a name containing `@` is looked up as an email
/// address first; otherwise, or when no one user has that address, as a username.
pub async fn find_user(
    store: &dyn Store,
    realm: &Realm,
    login: &str,
) -> Result<Option<UserWithCredential>> {
    if realm.email_sign_in() && login.contains('@') {
        let mut found = store.users_by_email(&realm.id, login).await?;
        if found.len() == 1 {
            return Ok(found.pop());
        }
    }
    store.user_by_username(&realm.id, login).await
}

/// The name the per-account brute-force lock counts under: the user's own username when the
/// sign-in name found one, so a username and an email address share one count.
pub fn account_key(found: Option<&UserWithCredential>, login: &str) -> String {
    found
        .map(|u| u.user.username.clone())
        .unwrap_or_else(|| login.to_lowercase())
}
