-- The service's settings (one JSON document an administrator edits), each user's encrypted
-- keystore backup (made and opened only in the browser or the CLI), and the addresses each
-- user watches (notifications follow them).

CREATE TABLE settings (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    document   TEXT    NOT NULL,
    updated_ms BIGINT  NOT NULL,
    updated_by BIGINT  REFERENCES users (id)
);

CREATE TABLE keystores (
    user_id    BIGINT  PRIMARY KEY REFERENCES users (id),
    address    TEXT    NOT NULL,
    keystore   TEXT    NOT NULL,
    updated_ms BIGINT  NOT NULL
);

CREATE TABLE watchlist (
    user_id    BIGINT  NOT NULL REFERENCES users (id),
    address    TEXT    NOT NULL,
    label      TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL,
    PRIMARY KEY (user_id, address)
);
CREATE INDEX watchlist_by_address ON watchlist (address);
CREATE INDEX users_by_created ON users (created_ms);
