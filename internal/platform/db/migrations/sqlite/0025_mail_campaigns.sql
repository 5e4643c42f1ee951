-- 0025: mass e-mail campaigns (邮件群发, docs/mailing.md) on the outbox.
--
-- A campaign's messages are outbox rows (campaign_id <> 0), one per
-- recipient, written before anything is sent with the idempotency key
-- campaign:<id>:<address>; the campaign sender claims and marks them. The
-- transactional Worker and its sweep leave them alone. vars holds the
-- recipient's template variables (JSON); the body is rendered at send time.
ALTER TABLE mail_outbox ADD COLUMN campaign_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mail_outbox ADD COLUMN vars TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_outbox ADD COLUMN last_code INTEGER NOT NULL DEFAULT 0;
CREATE INDEX mail_outbox_campaign ON mail_outbox (campaign_id, status, next_attempt_at) WHERE campaign_id <> 0;

-- Owned by package mailing.
CREATE TABLE mail_campaigns (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    list_id       BIGINT  NOT NULL,
    template_id   BIGINT  NOT NULL,
    subject       TEXT    NOT NULL,
    body_html     TEXT    NOT NULL,
    body_text     TEXT    NOT NULL,
    mandatory     BOOLEAN NOT NULL,
    from_addr     TEXT    NOT NULL,
    from_name     TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('draft', 'approval', 'scheduled', 'queuing', 'running', 'paused',
                                                     'finished', 'cancelled')),
    rate          INTEGER NOT NULL,
    hourly        INTEGER NOT NULL,
    pause_after   INTEGER NOT NULL,
    scheduled_at  BIGINT  NOT NULL DEFAULT 0,
    recipients    INTEGER NOT NULL DEFAULT 0,
    suppressed    INTEGER NOT NULL DEFAULT 0,
    paused_reason TEXT    NOT NULL DEFAULT '',
    created_by    BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    started_by    BIGINT  NOT NULL DEFAULT 0,
    approved_by   BIGINT  NOT NULL DEFAULT 0,
    started_at    BIGINT  NOT NULL DEFAULT 0,
    finished_at   BIGINT  NOT NULL DEFAULT 0,
    bounce_alert  BOOLEAN NOT NULL DEFAULT FALSE,
    -- The sender that holds the campaign (one at a time, over every
    -- process) and until when; a killed sender's hold runs out.
    sender_token  TEXT    NOT NULL DEFAULT '',
    sender_until  BIGINT  NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX mail_campaigns_status ON mail_campaigns (status, scheduled_at);

CREATE TABLE mail_campaign_events (
    id          INTEGER PRIMARY KEY,
    campaign_id BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    actor_id    BIGINT  NOT NULL DEFAULT 0,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX mail_campaign_events_campaign ON mail_campaign_events (campaign_id, id);

-- The campaign's figures by minute, added to by the sender after each batch
-- and by the bounce handler: what the statistics page reads, never the
-- outbox's rows.
CREATE TABLE mail_campaign_minutes (
    campaign_id  BIGINT  NOT NULL,
    minute       BIGINT  NOT NULL,
    sent         INTEGER NOT NULL DEFAULT 0,
    deferred     INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    bounced_hard INTEGER NOT NULL DEFAULT 0,
    bounced_soft INTEGER NOT NULL DEFAULT 0,
    complaints   INTEGER NOT NULL DEFAULT 0,
    unsubscribes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, minute)
);

-- Errors of a campaign by recipient domain and SMTP code (0: no answer).
CREATE TABLE mail_campaign_errors (
    campaign_id BIGINT  NOT NULL,
    domain      TEXT    NOT NULL,
    code        INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, domain, code)
);

-- The per-domain limits (messages per minute); the sender lowers a limit
-- when a domain's deferrals rise (docs/mailing.md, "Domains").
CREATE TABLE mail_domain_limits (
    domain     TEXT    PRIMARY KEY,
    per_minute INTEGER NOT NULL,
    base       INTEGER NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    updated_at BIGINT  NOT NULL
);
