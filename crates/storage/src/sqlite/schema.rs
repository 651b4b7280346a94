//! Schema migrations, applied in order at start; `PRAGMA user_version` records the last one.

pub const MIGRATIONS: &[&str] = &[
    r#"
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
    r#"
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
    r#"
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX sessions_ended ON sessions(ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);
CREATE INDEX auth_codes_expiry ON auth_codes(expires_at);
"#,
    // Refresh-token records without the family index. Every rotation inserted into it at the
    // end of its own family's run of entries: a page of its own per family per commit, two
    // thirds of the pages each group commit wrote (50 -> 11 per commit at 32 chains; writer
    // time per rotation 25 -> 16 µs). Records are keyed by jti alone (WITHOUT ROWID: one
    // b-tree, not a table plus an index). A family's records now outlive its deletion until
    // their own expiry (the purge takes them); the ones with no expiry — offline tokens
    // without a maximum lifespan — are deleted with their family by the trigger, through a
    // partial index that only they enter.
    r#"
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
    // The purge of sessions that idled out or reached their maximum without a logout: their
    // candidates in start order per realm (the start never changes, so rotations never touch
    // this index).
    r#"
CREATE INDEX sessions_started ON sessions(realm_id, offline, started_at, id);
"#,
    // Sign-in with an email address (loginWithEmailAllowed).
    r#"
CREATE INDEX users_email ON users(realm_id, email);
"#,
];
