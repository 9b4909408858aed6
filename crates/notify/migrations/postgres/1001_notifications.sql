-- Notifications: webhook endpoints, subscriptions on watched addresses, the outbox that the
-- chain-event consumer writes with its checkpoint, each delivery attempt, and the portal's
-- notification list. Numbered from 1001, apart from the accounts' migrations in the same
-- database. Times are Unix milliseconds.

CREATE TABLE notify_checkpoint (
    consumer TEXT    PRIMARY KEY,
    height   BIGINT  NOT NULL
);

CREATE TABLE webhook_endpoints (
    id                BIGSERIAL PRIMARY KEY,
    user_id           BIGINT  NOT NULL REFERENCES users (id),
    url               TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    secret            TEXT    NOT NULL,
    previous_secret   TEXT,
    previous_until_ms BIGINT ,
    created_ms        BIGINT  NOT NULL,
    failing_since_ms  BIGINT ,
    disabled_ms       BIGINT ,
    disabled_reason   TEXT
);
CREATE INDEX webhook_endpoints_by_user ON webhook_endpoints (user_id);

CREATE TABLE notify_subscriptions (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id),
    address     TEXT,
    kinds       TEXT    NOT NULL,
    channel     TEXT    NOT NULL CHECK (channel IN ('portal', 'webhook')),
    endpoint_id BIGINT  REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    created_ms  BIGINT  NOT NULL,
    CHECK ((channel = 'webhook') = (endpoint_id IS NOT NULL))
);
CREATE INDEX notify_subscriptions_by_user ON notify_subscriptions (user_id);

CREATE TABLE notify_outbox (
    seq             BIGSERIAL PRIMARY KEY,
    message_id      TEXT    NOT NULL UNIQUE,
    user_id         BIGINT  NOT NULL REFERENCES users (id),
    queue           TEXT    NOT NULL,
    endpoint_id     BIGINT  NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    subscription_id BIGINT ,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_ms      BIGINT  NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT  NOT NULL,
    lease_until_ms  BIGINT  NOT NULL DEFAULT 0,
    delivered_ms    BIGINT 
);
CREATE INDEX notify_outbox_pending ON notify_outbox (queue, seq) WHERE state = 'pending';
CREATE INDEX notify_outbox_by_endpoint ON notify_outbox (endpoint_id, seq);

CREATE TABLE notify_attempts (
    id          BIGSERIAL PRIMARY KEY,
    seq         BIGINT  NOT NULL REFERENCES notify_outbox (seq) ON DELETE CASCADE,
    attempt     BIGINT  NOT NULL,
    started_ms  BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    status      BIGINT ,
    error       TEXT,
    response    TEXT    NOT NULL
);
CREATE INDEX notify_attempts_by_seq ON notify_attempts (seq, id);

CREATE TABLE notifications (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id),
    message_id TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL,
    read_ms    BIGINT 
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);
