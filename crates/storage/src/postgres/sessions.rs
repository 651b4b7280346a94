//! Sessions, families, refresh tokens, codes and events on PostgreSQL: the shared statements
//! ([`crate::sql::sessions`]), pipelined. A refresh is two round trips: BEGIN, the family's
//! lock and the read of its state; then the decision's writes and COMMIT.

use super::{backend, config, exec};
use crate::sql::{rows, sessions as q, Columns};
use crate::{CodeDecision, CodeState, RefreshOutcome, Result, SessionInfo};
use deadpool_postgres::GenericClient;
use latchkey_domain::policy::{RefreshDecision, RefreshState};
use latchkey_domain::{ClientSession, Session, Timestamp};

pub async fn session<C: GenericClient>(c: &C, id: &str) -> Result<Option<Session>> {
    exec::query_opt(c, q::SESSION_BY_ID, &[id.into()], |r| rows::session(r, 0)).await
}

pub async fn client_sessions<C: GenericClient>(
    c: &C,
    session_id: &str,
) -> Result<Vec<ClientSession>> {
    exec::query(c, q::CLIENT_SESSIONS_OF, &[session_id.into()], |r| {
        rows::client_session(r, 0)
    })
    .await
}

pub async fn refresh_state<C: GenericClient>(c: &C, jti: &str) -> Result<Option<RefreshState>> {
    exec::query_opt(c, q::REFRESH_STATE, &[jti.into()], rows::refresh_state).await
}

/// Opens the refresh's transaction, locks the family and reads its state, in one round trip:
/// the read runs after the lock is held, so it sees what the refresh before it committed.
async fn begin_refresh<C: GenericClient>(c: &C, jti: &str) -> Result<Option<RefreshState>> {
    let lock = c.prepare_cached(q::LOCK_FAMILY).await.map_err(backend)?;
    let read = c.prepare_cached(q::REFRESH_STATE).await.map_err(backend)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&jti];
    let (begun, locked, row) = tokio::join!(
        c.batch_execute("BEGIN"),
        c.query_opt(&lock, &params),
        c.query_opt(&read, &params)
    );
    begun.map_err(backend)?;
    locked.map_err(backend)?;
    row.map_err(backend)?
        .as_ref()
        .map(rows::refresh_state)
        .transpose()
}

/// A refresh decided in its transaction: the outcome, and the writes that commit it.
pub struct Decided<'c, C: GenericClient> {
    pub outcome: RefreshOutcome,
    pub commit: Commit<'c, C>,
}

/// A decision's writes, staged in its open transaction.
pub struct Commit<'c, C: GenericClient> {
    conn: &'c C,
    plan: Vec<crate::sql::Statement>,
}

impl<C: GenericClient> Commit<'_, C> {
    /// Applies the writes and commits, in one round trip.
    pub async fn apply(self) -> Result<()> {
        exec::run_and_commit(self.conn, &self.plan).await.map(drop)
    }
}

/// Reads, decides and stages a refresh; [`Decided::commit`] applies it. On error the
/// transaction is rolled back.
pub async fn refresh<'c, C: GenericClient>(
    c: &'c C,
    jti: &str,
    now: Timestamp,
    decide: crate::Decide,
) -> Result<Decided<'c, C>> {
    let state = match begin_refresh(c, jti).await {
        Ok(state) => state,
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    };
    let Some(state) = state else {
        return Ok(Decided {
            outcome: RefreshOutcome::Unknown,
            commit: Commit {
                conn: c,
                plan: Vec::new(),
            },
        });
    };
    let (decision, event): (RefreshDecision, _) = decide(&state);
    let plan = q::refresh_effects(&state, &decision, event.as_ref(), now);
    Ok(Decided {
        outcome: RefreshOutcome::Decided {
            state: Box::new(state),
            decision,
        },
        commit: Commit { conn: c, plan },
    })
}

/// Reads (the code locked), decides and applies a code's redemption; the caller's transaction.
pub async fn redeem_code<C: GenericClient>(
    c: &C,
    hash: &str,
    now: Timestamp,
    decide: crate::DecideCode,
) -> Result<Option<(CodeState, CodeDecision)>> {
    let code = exec::query_opt(c, q::CODE_BY_HASH_LOCKED, &[hash.into()], rows::code).await?;
    let Some(code) = code else { return Ok(None) };
    let state = CodeState {
        session: session(c, &code.session_id).await?,
        user: config::user_by_id(c, &code.realm_id, &code.user_id).await?,
        code,
    };
    let decision = decide(&state);
    exec::run(c, &q::redeem_effects(&state, &decision, now)).await?;
    Ok(Some((state, decision)))
}

pub async fn sessions<C: GenericClient>(
    c: &C,
    realm_id: &str,
    offline: Option<bool>,
) -> Result<Vec<SessionInfo>> {
    let params = [realm_id.into(), offline.into()];
    let list = exec::query(c, q::SESSIONS_OF_REALM, &params, |r| rows::session(r, 0)).await?;
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let username = exec::query_opt(c, q::USERNAME_OF, &[s.user_id.as_str().into()], |r| {
            r.text(0)
        })
        .await?;
        out.push(SessionInfo {
            username: username.unwrap_or_else(|| format!("(deleted user {})", s.user_id)),
            clients: client_sessions(c, &s.id).await?,
            session: s,
        });
    }
    Ok(out)
}

pub async fn is_access_token_revoked<C: GenericClient>(c: &C, jti: &str) -> Result<bool> {
    Ok(
        exec::query_opt(c, q::IS_ACCESS_TOKEN_REVOKED, &[jti.into()], |_| Ok(()))
            .await?
            .is_some(),
    )
}
