//! Runs the shared statements ([`crate::sql`]) on a SQLite connection, through its
//! prepared-statement cache.

use super::backend;
use crate::sql::{corrupt, Columns, Statement, Value};
use crate::Result;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v as i64)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

impl Columns for Row<'_> {
    fn text(&self, i: usize) -> Result<String> {
        self.get(i).map_err(|e| corrupt(i, e))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.get(i).map_err(|e| corrupt(i, e))
    }
    fn int(&self, i: usize) -> Result<i64> {
        self.get(i).map_err(|e| corrupt(i, e))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.get(i).map_err(|e| corrupt(i, e))
    }
    fn flag(&self, i: usize) -> Result<bool> {
        self.get(i).map_err(|e| corrupt(i, e))
    }
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>> {
        self.get(i).map_err(|e| corrupt(i, e))
    }
}

/// Runs one statement; the rows it changed.
pub fn execute(conn: &Connection, s: &Statement) -> Result<u64> {
    conn.prepare_cached(&s.sql)
        .map_err(backend)?
        .execute(rusqlite::params_from_iter(&s.params))
        .map(|n| n as u64)
        .map_err(|e| s.failed(backend(e)))
}

/// Runs a write plan in order; the rows each statement changed.
pub fn run(conn: &Connection, plan: &[Statement]) -> Result<Vec<u64>> {
    plan.iter().map(|s| execute(conn, s)).collect()
}

/// Every row of `sql`, mapped.
pub fn query<T>(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    map: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = st
        .query(rusqlite::params_from_iter(params))
        .map_err(backend)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(backend)? {
        out.push(map(r)?);
    }
    Ok(out)
}

/// The first row of `sql`, mapped; `None` when there is none.
pub fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    map: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = st
        .query(rusqlite::params_from_iter(params))
        .map_err(backend)?;
    match rows.next().map_err(backend)? {
        Some(r) => map(r).map(Some),
        None => Ok(None),
    }
}
