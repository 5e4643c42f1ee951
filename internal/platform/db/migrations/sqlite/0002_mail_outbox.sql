-- 0002 mail outbox: notification e-mail, queued in the same transaction as
-- the state change that causes it and sent by the mail worker.
-- Times are UTC Unix microseconds (BIGINT); 0 means "not yet".

CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY,
    created_at      BIGINT  NOT NULL,
    to_addr         TEXT    NOT NULL,
    to_name         TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL DEFAULT '',
    category        TEXT    NOT NULL DEFAULT '',
    ref             TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         BIGINT  NOT NULL DEFAULT 0,
    -- The lease of the worker that is sending the message; its value also
    -- identifies that claim, so a worker whose lease ran out cannot
    -- overwrite the outcome of the worker that took the message over.
    locked_until    BIGINT  NOT NULL DEFAULT 0,
    idempotency_key TEXT    NOT NULL DEFAULT ''
);
-- Most messages carry no key; only the ones that do must be unique.
CREATE UNIQUE INDEX mail_outbox_idempotency ON mail_outbox (idempotency_key) WHERE idempotency_key <> '';
-- Sent mail piles up; the worker only ever looks at the few pending rows.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX mail_outbox_status ON mail_outbox (status, id);
CREATE INDEX mail_outbox_to ON mail_outbox (lower(to_addr), id);
CREATE INDEX mail_outbox_category ON mail_outbox (category, id);
CREATE INDEX mail_outbox_ref ON mail_outbox (ref, id);
