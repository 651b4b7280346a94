//! PostgreSQL schema migrations, applied in order at start under an advisory lock so that
//! several nodes starting at once migrate exactly once.

pub const MIGRATIONS: &[&str] = &[
    r#"
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
    r#"
ALTER TABLE realm_keys ADD COLUMN seq BIGSERIAL;
"#,
    r#"
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX sessions_ended ON sessions(ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);
CREATE INDEX auth_codes_expiry ON auth_codes(expires_at);
"#,
    // As SQLite's migration 4: no family index (a random insert per rotation), no cascade;
    // records without expiry go with their family through a trigger and a partial index.
    r#"
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
    // As SQLite's migration 5: the purge's candidates of idled-out and expired sessions.
    r#"
CREATE INDEX sessions_started ON sessions(realm_id, offline, started_at, id);
"#,
    // Sign-in with an email address (loginWithEmailAllowed).
    r#"
CREATE INDEX users_email ON users(realm_id, email);
"#,
];
