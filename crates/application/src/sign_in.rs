//! Signing in, for the login page and the password grant alike: which user a sign-in name
//! names, and the one credential check.

use crate::app::App;
use crate::throttle::Settings;
use latchkey_crypto::password::Verification;
use latchkey_domain::event::types::error as errors;
use latchkey_domain::{Realm, User};
use latchkey_storage::{Result, StoreError, UserRepository, UserWithCredential};
use std::net::IpAddr;

/// Keycloak's rule: where the realm allows sign-in with an email address
/// (`loginWithEmailAllowed`, emails unique), a name containing `@` is looked up as an email
/// address first; otherwise, or when no one user has that address, as a username.
pub async fn find_user(
    store: &dyn UserRepository,
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
        .unwrap_or_else(|| latchkey_domain::user::canonical_username(login))
}

/// Why a sign-in was refused.
#[derive(Debug)]
pub enum Refusal {
    /// The brute-force throttle holds this account or address; the message says until when.
    Locked(String),
    /// Unknown user, no password, the wrong one, or the right one for a disabled account:
    /// never said which to the client; `why` is Keycloak's event error for the administrator
    /// (`user_not_found`, `invalid_user_credentials`, `user_disabled`), `user_id` whom it
    /// was about when known.
    BadCredentials {
        why: &'static str,
        user_id: Option<String>,
    },
    Store(StoreError),
}

/// The one credential check of every sign-in (the login page and the password grant): the
/// throttle, the user by name or email, the password verified in the hashing pool (a dummy
/// verification when there is no user, so timing does not tell), failures and successes
/// counted, an imported or outdated hash re-hashed to the current parameters, and the account
/// enabled (a disabled one is refused as a wrong password would be).
pub async fn check(
    app: &App,
    realm: &Realm,
    login: &str,
    password: &str,
    addr: Option<IpAddr>,
) -> std::result::Result<User, Refusal> {
    let settings = Settings::for_realm(realm);
    let found = find_user(app.store.as_ref(), realm, login)
        .await
        .map_err(Refusal::Store)?;
    let account = account_key(found.as_ref(), login);
    if let Err(locked) = app.throttle.check(&settings, &realm.name, &account, addr) {
        return Err(Refusal::Locked(locked.message()));
    }
    let user_id = found.as_ref().map(|u| u.user.id.clone());
    let bad = |why| Refusal::BadCredentials {
        why,
        user_id: user_id.clone(),
    };
    if login.is_empty() || password.is_empty() {
        return Err(bad(errors::INVALID_USER_CREDENTIALS));
    }
    let verdict = match found.as_ref().and_then(|u| u.password_hash.clone()) {
        Some(hash) => {
            let (algorithm, strength) = hash_labels(&hash);
            let verdict = app.passwords.verify(password.to_string(), hash).await;
            let outcome = match &verdict {
                Ok(Verification::Match { .. }) => "valid",
                Ok(Verification::Mismatch) => "invalid",
                Err(_) => "error",
            };
            app.metrics
                .password_validations
                .get_or_create(&crate::metrics::PasswordLabels {
                    realm: realm.name.clone(),
                    algorithm,
                    hashing_strength: strength,
                    outcome: outcome.into(),
                })
                .inc();
            verdict.unwrap_or_else(|e| {
                tracing::error!(error = %e, "stored password hash unreadable");
                Verification::Mismatch
            })
        }
        None => {
            app.passwords.verify_dummy(password.to_string()).await;
            Verification::Mismatch
        }
    };
    let (Some(found), Verification::Match { needs_rehash }) = (found, verdict) else {
        app.throttle.failure(&settings, &realm.name, &account, addr);
        return Err(bad(if user_id.is_some() {
            errors::INVALID_USER_CREDENTIALS
        } else {
            errors::USER_NOT_FOUND
        }));
    };
    app.throttle.success(&realm.name, &account);
    if needs_rehash {
        rehash(app, &found.user.id, password.to_string()).await;
    }
    if !found.user.enabled {
        // Answered as a wrong password: a different answer would tell a guesser the password
        // was right.
        tracing::info!(realm = %realm.name, user = %found.user.username, "sign-in refused: the account is disabled");
        return Err(bad(errors::USER_DISABLED));
    }
    Ok(found.user)
}

/// Keycloak's labels of a stored hash: its algorithm and strength (`argon2` and
/// `Argon2id-1.3[m=19456,t=2,p=1]`, or `pbkdf2-sha256` and its iterations).
fn hash_labels(hash: &str) -> (String, String) {
    if let Some(rest) = hash.strip_prefix("$kc-pbkdf2-") {
        let mut it = rest.split('$');
        let alg = it.next().unwrap_or("");
        return (format!("pbkdf2-{alg}"), it.next().unwrap_or("").to_string());
    }
    let mut it = hash.trim_start_matches('$').split('$');
    let (kind, version, params) = (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    );
    if !kind.starts_with("argon2") {
        return ("unknown".into(), String::new());
    }
    let version = match version {
        "v=19" => "1.3",
        "v=16" => "1.0",
        _ => "",
    };
    let variant = format!("Argon2{}", &kind["argon2".len()..]);
    ("argon2".into(), format!("{variant}-{version}[{params}]"))
}

/// Re-hashes an imported or outdated hash to our parameters after a successful sign-in; a
/// failure leaves the old hash, which still verifies.
async fn rehash(app: &App, user_id: &str, password: String) {
    match app.passwords.hash(password).await {
        Ok(h) => {
            if let Err(e) = app.store.set_password_hash(user_id, &h).await {
                tracing::warn!(error = %e, "could not store re-hashed password");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not re-hash password"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_are_labelled_as_keycloak_labels_them() {
        assert_eq!(
            super::hash_labels("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            ("argon2".into(), "Argon2id-1.3[m=19456,t=2,p=1]".into())
        );
        assert_eq!(
            super::hash_labels("$kc-pbkdf2-sha512$210000$c2FsdA==$aGFzaA=="),
            ("pbkdf2-sha512".into(), "210000".into())
        );
    }
}
