-- Users, their sessions (refresh-token families), the tokens each family was issued, the
-- key that signs access tokens, and the append-only, hash-chained audit log.
-- Times are Unix milliseconds.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT      NOT NULL UNIQUE,
    password_hash TEXT      NOT NULL,
    role          TEXT      NOT NULL CHECK (role IN ('user', 'admin')),
    disabled      BOOLEAN   NOT NULL DEFAULT FALSE,
    created_ms    BIGINT    NOT NULL,
    updated_ms    BIGINT    NOT NULL
);

CREATE TABLE sessions (
    family       TEXT   PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    revoked_ms   BIGINT,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    hash      BYTEA  PRIMARY KEY,
    family    TEXT   NOT NULL REFERENCES sessions (family),
    issued_ms BIGINT NOT NULL,
    used_ms   BIGINT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);

CREATE TABLE signing_keys (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    secret     BYTEA  NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    actor      BIGINT,
    action     TEXT   NOT NULL,
    subject    TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT   NOT NULL,
    prev_hash  BYTEA  NOT NULL,
    hash       BYTEA  NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- The chain's head: one row, updated by each append, so that appends are serialised.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA  NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
