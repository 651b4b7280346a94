//! The schema of both stores in one place: each migration once, in SQLite's and PostgreSQL's
//! words side by side where their dialects differ (types, `WITHOUT ROWID`, triggers), written
//! once where they do not. Applied in order at start: SQLite records the last one in
//! `PRAGMA user_version`, PostgreSQL in `latchkey_migrations` under an advisory lock (several
//! nodes starting at once migrate exactly once).

/// One migration.
pub struct Migration {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// A migration both dialects read alike.
const fn both(sql: &'static str) -> Migration {
    Migration {
        sqlite: sql,
        postgres: sql,
    }
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        sqlite: r#"
CREATE TABLE realms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    representation TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE realm_keys (
    kid TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    alg TEXT NOT NULL,
    material BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX realm_keys_realm ON realm_keys(realm_id);
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    representation TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '[]',
    secret_digest BLOB,
    secret_sealed BLOB,
    UNIQUE (realm_id, client_id)
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    email TEXT,
    representation TEXT NOT NULL,
    password_hash TEXT,
    UNIQUE (realm_id, username)
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    offline INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    auth_time INTEGER NOT NULL,
    last_refresh INTEGER NOT NULL,
    ended_at INTEGER,
    end_reason TEXT
);
CREATE INDEX sessions_realm_user ON sessions(realm_id, user_id);
CREATE TABLE client_sessions (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    last_refresh INTEGER NOT NULL,
    current_jti TEXT,
    revoked_at INTEGER,
    revoke_reason TEXT
);
CREATE INDEX client_sessions_session ON client_sessions(session_id, client_id);
CREATE TABLE refresh_tokens (
    jti TEXT PRIMARY KEY,
    client_session_id TEXT NOT NULL REFERENCES client_sessions(id) ON DELETE CASCADE,
    parent_jti TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER,
    scope TEXT NOT NULL,
    offline INTEGER NOT NULL,
    rotated_at INTEGER,
    successor_jti TEXT,
    use_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(client_session_id);
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    realm_id TEXT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX events_realm ON events(realm_id, at);
"#,
        postgres: r#"
CREATE TABLE realms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    representation TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE realm_keys (
    kid TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    alg TEXT NOT NULL,
    material BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX realm_keys_realm ON realm_keys(realm_id);
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    representation TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '[]',
    secret_digest BYTEA,
    secret_sealed BYTEA,
    UNIQUE (realm_id, client_id)
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    email TEXT,
    representation TEXT NOT NULL,
    password_hash TEXT,
    UNIQUE (realm_id, username)
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    offline BOOLEAN NOT NULL,
    started_at BIGINT NOT NULL,
    auth_time BIGINT NOT NULL,
    last_refresh BIGINT NOT NULL,
    ended_at BIGINT,
    end_reason TEXT
);
CREATE INDEX sessions_realm_user ON sessions(realm_id, user_id);
CREATE TABLE client_sessions (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_refresh BIGINT NOT NULL,
    current_jti TEXT,
    revoked_at BIGINT,
    revoke_reason TEXT
);
CREATE INDEX client_sessions_session ON client_sessions(session_id, client_id);
CREATE TABLE refresh_tokens (
    jti TEXT PRIMARY KEY,
    client_session_id TEXT NOT NULL REFERENCES client_sessions(id) ON DELETE CASCADE,
    parent_jti TEXT,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT,
    scope TEXT NOT NULL,
    offline BOOLEAN NOT NULL,
    rotated_at BIGINT,
    successor_jti TEXT,
    use_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(client_session_id);
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    realm_id TEXT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX events_realm ON events(realm_id, at);
CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    redirect_uri_sent BOOLEAN NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    family_id TEXT
);
"#,
    },
    Migration {
        sqlite: r#"
CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    redirect_uri_sent INTEGER NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    family_id TEXT
);
"#,
        postgres: r#"
ALTER TABLE realm_keys ADD COLUMN seq BIGSERIAL;
"#,
    },
    both(
        r#"
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX sessions_ended ON sessions(ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);
CREATE INDEX auth_codes_expiry ON auth_codes(expires_at);
"#,
    ),
    // Refresh-token records without the family index: every rotation inserted into it at the
    // end of its own family's run of entries, a page of its own per family per commit (see
    // docs/performance.md). On SQLite records are keyed by jti alone (WITHOUT ROWID: one
    // b-tree, not a table plus an index). A family's records outlive its deletion until their
    // own expiry (the purge takes them); the ones with no expiry — offline tokens without a
    // maximum lifespan — go with their family through the trigger and a partial index that
    // only they enter.
    Migration {
        sqlite: r#"
CREATE TABLE refresh_tokens_v4 (
    jti TEXT PRIMARY KEY,
    client_session_id TEXT NOT NULL,
    parent_jti TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER,
    scope TEXT NOT NULL,
    offline INTEGER NOT NULL,
    rotated_at INTEGER,
    successor_jti TEXT,
    use_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO refresh_tokens_v4 (jti, client_session_id, parent_jti, issued_at, expires_at, scope, offline, rotated_at, successor_jti, use_count)
    SELECT jti, client_session_id, parent_jti, issued_at, expires_at, scope, offline, rotated_at, successor_jti, use_count FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_v4 RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX refresh_tokens_unbounded ON refresh_tokens(client_session_id) WHERE expires_at IS NULL;
CREATE TRIGGER client_sessions_drop_unbounded_tokens AFTER DELETE ON client_sessions BEGIN
    DELETE FROM refresh_tokens WHERE client_session_id = OLD.id AND expires_at IS NULL;
END;
"#,
        postgres: r#"
ALTER TABLE refresh_tokens DROP CONSTRAINT IF EXISTS refresh_tokens_client_session_id_fkey;
DROP INDEX IF EXISTS refresh_tokens_family;
CREATE INDEX refresh_tokens_unbounded ON refresh_tokens(client_session_id) WHERE expires_at IS NULL;
CREATE FUNCTION latchkey_drop_unbounded_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM refresh_tokens WHERE client_session_id = OLD.id AND expires_at IS NULL;
    RETURN OLD;
END
$$;
CREATE TRIGGER client_sessions_drop_unbounded_tokens AFTER DELETE ON client_sessions
    FOR EACH ROW EXECUTE FUNCTION latchkey_drop_unbounded_tokens();
"#,
    },
    // The purge of sessions that idled out or reached their maximum without a logout: their
    // candidates in start order per realm (the start never changes, so rotations never touch
    // this index).
    both(
        r#"
CREATE INDEX sessions_started ON sessions(realm_id, offline, started_at, id);
"#,
    ),
    // Sign-in with an email address (loginWithEmailAllowed).
    both(
        r#"
CREATE INDEX users_email ON users(realm_id, email);
"#,
    ),
    // Signing keys sealed under the master key; older rows stay clear until the server seals them.
    Migration {
        sqlite: "ALTER TABLE realm_keys ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;",
        postgres: "ALTER TABLE realm_keys ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;",
    },
    // The servers' last sign of life and the outages found at start (sql/uptime.rs).
    both(
        r#"
CREATE TABLE server_clock (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    alive_at BIGINT NOT NULL
);
CREATE TABLE outages (
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL
);
"#,
    ),
    // Events in Keycloak's shape (sql/events.rs). Events recorded before stay in `events`. On
    // SQLite a user event is one row of one B-tree, kept in the order it is listed (realm,
    // time): a rotation that records its event pays one more insert, not two.
    Migration {
        sqlite: r#"
CREATE TABLE user_events (
    realm_id TEXT NOT NULL,
    time INTEGER NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    session_id TEXT,
    ip_address TEXT,
    error TEXT,
    details TEXT,
    PRIMARY KEY (realm_id, time, id)
) WITHOUT ROWID;
CREATE TABLE admin_events (
    realm_id TEXT NOT NULL,
    time INTEGER NOT NULL,
    id TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_path TEXT NOT NULL,
    auth_realm_id TEXT,
    auth_client_id TEXT,
    auth_user_id TEXT,
    auth_ip_address TEXT,
    representation TEXT,
    error TEXT,
    PRIMARY KEY (realm_id, time, id)
) WITHOUT ROWID;
"#,
        postgres: r#"
CREATE TABLE user_events (
    realm_id TEXT NOT NULL,
    time BIGINT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    session_id TEXT,
    ip_address TEXT,
    error TEXT,
    details TEXT,
    PRIMARY KEY (realm_id, time, id)
);
CREATE TABLE admin_events (
    realm_id TEXT NOT NULL,
    time BIGINT NOT NULL,
    id TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_path TEXT NOT NULL,
    auth_realm_id TEXT,
    auth_client_id TEXT,
    auth_user_id TEXT,
    auth_ip_address TEXT,
    representation TEXT,
    error TEXT,
    PRIMARY KEY (realm_id, time, id)
);
"#,
    },
];
