-- The chain's index: what `btcr indexer` reads from a node's block stream. Every row names
-- the block that wrote it, so that reverting blocks is a delete above a height; the
-- checkpoint is written in the same transaction as the rows. Amounts are numeric(78,0)
-- (any 256-bit value), hashes and addresses bytea. The secondary indexes (by sender,
-- address, token, …) are made by the indexer itself (`SECONDARY_INDEXES`), after a bulk
-- backfill rather than during it.

CREATE TABLE indexer_checkpoint (
    id     SMALLINT PRIMARY KEY CHECK (id = 1),
    height BIGINT   NOT NULL,
    hash   BYTEA    NOT NULL
);

CREATE TABLE blocks (
    number            BIGINT        PRIMARY KEY,
    hash              BYTEA         NOT NULL UNIQUE,
    parent_hash       BYTEA         NOT NULL,
    timestamp_ms      BIGINT        NOT NULL,
    proposer          BYTEA         NOT NULL,
    state_root        BYTEA         NOT NULL,
    gas_used          NUMERIC(20,0) NOT NULL,
    gas_limit         NUMERIC(20,0) NOT NULL,
    base_fee_per_gas  NUMERIC(78,0) NOT NULL,
    transaction_count INTEGER       NOT NULL,
    poh_ticks         NUMERIC(20,0) NOT NULL,
    balances_known    BOOLEAN       NOT NULL
);

CREATE TABLE transactions (
    hash                     BYTEA         PRIMARY KEY,
    block_number             BIGINT        NOT NULL,
    tx_index                 INTEGER       NOT NULL,
    sender                   BYTEA         NOT NULL,
    recipient                BYTEA,
    contract_address         BYTEA,
    value                    NUMERIC(78,0) NOT NULL,
    nonce                    NUMERIC(20,0) NOT NULL,
    gas_limit                NUMERIC(20,0) NOT NULL,
    max_fee_per_gas          NUMERIC(78,0) NOT NULL,
    max_priority_fee_per_gas NUMERIC(78,0),
    tx_type                  SMALLINT      NOT NULL,
    input                    BYTEA         NOT NULL,
    UNIQUE (block_number, tx_index)
);

CREATE TABLE receipts (
    tx_hash             BYTEA         PRIMARY KEY,
    block_number        BIGINT        NOT NULL,
    tx_index            INTEGER       NOT NULL,
    succeeded           BOOLEAN       NOT NULL,
    gas_used            NUMERIC(20,0) NOT NULL,
    cumulative_gas_used NUMERIC(20,0) NOT NULL,
    effective_gas_price NUMERIC(78,0) NOT NULL,
    log_count           INTEGER       NOT NULL
);

CREATE TABLE logs (
    block_number BIGINT  NOT NULL,
    log_index    INTEGER NOT NULL,
    tx_index     INTEGER NOT NULL,
    tx_hash      BYTEA   NOT NULL,
    address      BYTEA   NOT NULL,
    topic0       BYTEA,
    topic1       BYTEA,
    topic2       BYTEA,
    topic3       BYTEA,
    data         BYTEA   NOT NULL,
    PRIMARY KEY (block_number, log_index)
);

CREATE TABLE token_transfers (
    block_number BIGINT        NOT NULL,
    log_index    INTEGER       NOT NULL,
    batch_index  INTEGER       NOT NULL,
    tx_hash      BYTEA         NOT NULL,
    token        BYTEA         NOT NULL,
    standard     TEXT          NOT NULL CHECK (standard IN ('erc20', 'erc721', 'erc1155')),
    sender       BYTEA         NOT NULL,
    recipient    BYTEA         NOT NULL,
    token_id     NUMERIC(78,0),
    value        NUMERIC(78,0) NOT NULL,
    PRIMARY KEY (block_number, log_index, batch_index)
);

-- The balance (wei) of each account after each block that changed it.
CREATE TABLE balances (
    address      BYTEA         NOT NULL,
    block_number BIGINT        NOT NULL,
    balance      NUMERIC(78,0) NOT NULL,
    PRIMARY KEY (address, block_number)
);

-- The validators whose precommits finalized each block.
CREATE TABLE block_signers (
    block_number BIGINT NOT NULL,
    validator    BYTEA  NOT NULL,
    PRIMARY KEY (block_number, validator)
);

-- Each validator set, from the first block it decides.
CREATE TABLE validator_sets (
    first_block BIGINT        NOT NULL,
    validator   BYTEA         NOT NULL,
    power       NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (first_block, validator)
);

-- Each validator's uptime over what is indexed: of the blocks decided while it was in the
-- set, how many certificates hold its precommit; and how many blocks it proposed.
CREATE VIEW validator_uptime AS
WITH starts AS (
    SELECT first_block, LEAD(first_block) OVER (ORDER BY first_block) AS next_first
    FROM (SELECT DISTINCT first_block FROM validator_sets) s
),
spans AS (
    SELECT v.validator, s.first_block, s.next_first
    FROM validator_sets v JOIN starts s USING (first_block)
)
SELECT spans.validator,
       SUM((SELECT COUNT(*) FROM blocks b
            WHERE b.number >= spans.first_block
              AND (spans.next_first IS NULL OR b.number < spans.next_first)))::BIGINT AS decided,
       SUM((SELECT COUNT(*) FROM block_signers s
            WHERE s.validator = spans.validator AND s.block_number >= spans.first_block
              AND (spans.next_first IS NULL OR s.block_number < spans.next_first)))::BIGINT AS signed,
       (SELECT COUNT(*) FROM blocks b WHERE b.proposer = spans.validator)::BIGINT AS proposed
FROM spans
GROUP BY spans.validator;
