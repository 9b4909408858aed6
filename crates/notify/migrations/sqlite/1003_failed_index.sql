-- Messages that gave up after their last retry, counted by the metrics at each scrape.
CREATE INDEX notify_outbox_failed ON notify_outbox (seq) WHERE state = 'failed';
