//! Realms, keys, clients and users on SQLite: the shared statements ([`crate::sql::config`]).

use super::exec;
use crate::sql::config as q;
use crate::sql::{found, Columns};
use crate::{NewRealm, Result, StoredKey, UserQuery, UserWithCredential};
use latchkey_domain::user::canonical_username;
use latchkey_domain::{Client, Realm, User};
use rusqlite::Connection;

pub fn insert_realm(tx: &Connection, new: &NewRealm, now: i64) -> Result<()> {
    exec::run(tx, &q::insert_realm(new, now)).map(drop)
}

pub fn realm_by_name(conn: &Connection, name: &str) -> Result<Option<Realm>> {
    exec::query_opt(conn, q::REALM_BY_NAME, &[name.into()], |r| q::realm(r))
}

pub fn realm_by_id(conn: &Connection, id: &str) -> Result<Option<Realm>> {
    exec::query_opt(conn, q::REALM_BY_ID, &[id.into()], |r| q::realm(r))
}

pub fn realm_names(conn: &Connection) -> Result<Vec<String>> {
    exec::query(conn, q::REALM_NAMES, &[], |r| r.text(0))
}

pub fn realm_keys(conn: &Connection, realm_id: &str) -> Result<Vec<StoredKey>> {
    exec::query(conn, q::REALM_KEYS_SQLITE, &[realm_id.into()], |r| {
        q::key(r)
    })
}

pub fn clients(conn: &Connection, realm_id: &str) -> Result<Vec<Client>> {
    exec::query(conn, q::CLIENTS_OF, &[realm_id.into()], |r| q::client(r))
}

pub fn client_by_client_id(
    conn: &Connection,
    realm_id: &str,
    client_id: &str,
) -> Result<Option<Client>> {
    let params = [realm_id.into(), client_id.into()];
    exec::query_opt(conn, q::CLIENT_BY_CLIENT_ID, &params, |r| q::client(r))
}

pub fn client_by_id(conn: &Connection, realm_id: &str, id: &str) -> Result<Option<Client>> {
    exec::query_opt(conn, q::CLIENT_BY_ID, &[realm_id.into(), id.into()], |r| {
        q::client(r)
    })
}

pub fn user_by_username(
    conn: &Connection,
    realm_id: &str,
    username: &str,
) -> Result<Option<UserWithCredential>> {
    let params = [realm_id.into(), canonical_username(username).into()];
    exec::query_opt(conn, q::USER_BY_USERNAME, &params, |r| {
        q::user_with_credential(r)
    })
}

pub fn users_by_email(
    conn: &Connection,
    realm_id: &str,
    email: &str,
) -> Result<Vec<UserWithCredential>> {
    let params = [realm_id.into(), email.to_lowercase().into()];
    exec::query(conn, q::USERS_BY_EMAIL, &params, |r| {
        q::user_with_credential(r)
    })
}

pub fn user_by_id(conn: &Connection, realm_id: &str, id: &str) -> Result<Option<User>> {
    exec::query_opt(conn, q::USER_BY_ID, &[realm_id.into(), id.into()], |r| {
        q::user(r)
    })
}

pub fn update_realm(tx: &Connection, realm: &Realm) -> Result<()> {
    found(exec::execute(tx, &q::update_realm(realm))?, || {
        format!("realm '{}'", realm.name)
    })
}

pub fn update_client(tx: &Connection, c: &Client) -> Result<()> {
    found(exec::execute(tx, &q::update_client(c))?, || {
        format!("client '{}'", c.client_id)
    })
}

pub fn update_user(tx: &Connection, u: &User) -> Result<()> {
    found(exec::execute(tx, &q::update_user(u))?, || {
        format!("user '{}'", u.username)
    })
}

pub fn users(conn: &Connection, realm_id: &str, query: &UserQuery) -> Result<Vec<User>> {
    let (sql, params) = q::user_search(realm_id, query, false);
    exec::query(conn, &sql, &params, |r| q::user(r))
}

pub fn count_users(conn: &Connection, realm_id: &str, query: &UserQuery) -> Result<i64> {
    let (sql, params) = q::user_search(realm_id, query, true);
    Ok(exec::query_opt(conn, &sql, &params, |r| r.int(0))?.unwrap_or(0))
}
