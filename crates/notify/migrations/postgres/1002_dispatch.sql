-- With RabbitMQ between the outbox and the workers: the token a message was last published
-- under, spent by the worker that takes it (NULL: not published, or taken).
ALTER TABLE notify_outbox ADD COLUMN dispatch TEXT;
