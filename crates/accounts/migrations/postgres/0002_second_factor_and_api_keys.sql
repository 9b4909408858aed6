-- TOTP second factors, their recovery codes, the challenges a login with TOTP answers, and
-- API keys. Secrets given once to the user (recovery codes, API keys, challenges) are kept
-- only as SHA-256 hashes.

CREATE TABLE totp (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id),
    secret       BYTEA    NOT NULL,
    confirmed_ms BIGINT,
    last_step    BIGINT  NOT NULL DEFAULT 0,
    created_ms   BIGINT  NOT NULL
);

CREATE TABLE recovery_codes (
    hash    BYTEA    PRIMARY KEY,
    user_id BIGINT  NOT NULL REFERENCES users (id),
    used_ms BIGINT
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

CREATE TABLE login_challenges (
    hash       BYTEA    PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id),
    expires_ms BIGINT  NOT NULL,
    attempts   BIGINT  NOT NULL DEFAULT 0,
    used_ms    BIGINT
);

CREATE TABLE api_keys (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL UNIQUE,
    hash         BYTEA    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_ms   BIGINT  NOT NULL,
    last_used_ms BIGINT,
    revoked_ms   BIGINT
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
