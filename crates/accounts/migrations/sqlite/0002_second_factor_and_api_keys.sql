-- TOTP second factors, their recovery codes, the challenges a login with TOTP answers, and
-- API keys. Secrets given once to the user (recovery codes, API keys, challenges) are kept
-- only as SHA-256 hashes.

CREATE TABLE totp (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id),
    secret       BLOB    NOT NULL,
    confirmed_ms INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    hash    BLOB    PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    used_ms INTEGER
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

CREATE TABLE login_challenges (
    hash       BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    expires_ms INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_ms    INTEGER
);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL UNIQUE,
    hash         BLOB    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms   INTEGER
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
