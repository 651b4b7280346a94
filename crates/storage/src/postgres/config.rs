//! Realms, keys, clients and users on PostgreSQL: the shared statements
//! ([`crate::sql::config`]).

use super::exec;
use crate::sql::config as q;
use crate::sql::{found, Columns};
use crate::{Result, StoredKey, UserQuery, UserWithCredential};
use deadpool_postgres::GenericClient;
use latchkey_domain::user::canonical_username;
use latchkey_domain::{Client, Realm, User};

pub async fn realm_by_name<C: GenericClient>(c: &C, name: &str) -> Result<Option<Realm>> {
    exec::query_opt(c, q::REALM_BY_NAME, &[name.into()], q::realm).await
}

pub async fn realm_by_id<C: GenericClient>(c: &C, id: &str) -> Result<Option<Realm>> {
    exec::query_opt(c, q::REALM_BY_ID, &[id.into()], q::realm).await
}

pub async fn realm_names<C: GenericClient>(c: &C) -> Result<Vec<String>> {
    exec::query(c, q::REALM_NAMES, &[], |r| r.text(0)).await
}

pub async fn realm_keys<C: GenericClient>(c: &C, realm_id: &str) -> Result<Vec<StoredKey>> {
    exec::query(c, q::REALM_KEYS_POSTGRES, &[realm_id.into()], q::key).await
}

pub async fn clients<C: GenericClient>(c: &C, realm_id: &str) -> Result<Vec<Client>> {
    exec::query(c, q::CLIENTS_OF, &[realm_id.into()], q::client).await
}

pub async fn client_by_client_id<C: GenericClient>(
    c: &C,
    realm_id: &str,
    client_id: &str,
) -> Result<Option<Client>> {
    let params = [realm_id.into(), client_id.into()];
    exec::query_opt(c, q::CLIENT_BY_CLIENT_ID, &params, q::client).await
}

pub async fn client_by_id<C: GenericClient>(
    c: &C,
    realm_id: &str,
    id: &str,
) -> Result<Option<Client>> {
    let params = [realm_id.into(), id.into()];
    exec::query_opt(c, q::CLIENT_BY_ID, &params, q::client).await
}

pub async fn user_by_username<C: GenericClient>(
    c: &C,
    realm_id: &str,
    username: &str,
) -> Result<Option<UserWithCredential>> {
    let params = [realm_id.into(), canonical_username(username).into()];
    exec::query_opt(c, q::USER_BY_USERNAME, &params, |r| {
        q::user_with_credential(r)
    })
    .await
}

pub async fn users_by_email<C: GenericClient>(
    c: &C,
    realm_id: &str,
    email: &str,
) -> Result<Vec<UserWithCredential>> {
    let params = [realm_id.into(), email.to_lowercase().into()];
    exec::query(c, q::USERS_BY_EMAIL, &params, |r| {
        q::user_with_credential(r)
    })
    .await
}

pub async fn user_by_id<C: GenericClient>(c: &C, realm_id: &str, id: &str) -> Result<Option<User>> {
    let params = [realm_id.into(), id.into()];
    exec::query_opt(c, q::USER_BY_ID, &params, q::user).await
}

pub async fn update_realm<C: GenericClient>(c: &C, realm: &Realm) -> Result<()> {
    let n = exec::execute(c, &q::update_realm(realm)).await?;
    found(n, || format!("realm '{}'", realm.name))
}

pub async fn update_client<C: GenericClient>(c: &C, cl: &Client) -> Result<()> {
    let n = exec::execute(c, &q::update_client(cl)).await?;
    found(n, || format!("client '{}'", cl.client_id))
}

pub async fn update_user<C: GenericClient>(c: &C, u: &User) -> Result<()> {
    let n = exec::execute(c, &q::update_user(u)).await?;
    found(n, || format!("user '{}'", u.username))
}

pub async fn users<C: GenericClient>(
    c: &C,
    realm_id: &str,
    query: &UserQuery,
) -> Result<Vec<User>> {
    let (sql, params) = q::user_search(realm_id, query, false);
    exec::query(c, &sql, &params, q::user).await
}

pub async fn count_users<C: GenericClient>(
    c: &C,
    realm_id: &str,
    query: &UserQuery,
) -> Result<i64> {
    let (sql, params) = q::user_search(realm_id, query, true);
    Ok(exec::query_opt(c, &sql, &params, |r| r.int(0))
        .await?
        .unwrap_or(0))
}
