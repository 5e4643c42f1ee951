-- Mass mail, part one (邮件群发, internal/mailing, docs/mailing.md): mailing
-- lists, the suppression list and the templates of campaigns.
--
-- A static list's members are stored (an uploaded CSV); a dynamic list
-- stores its saved query as JSON {kind, params}, evaluated at send time.
-- version guards every change of a list or a template.
CREATE TABLE mail_lists (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('static', 'dynamic')),
    query        TEXT    NOT NULL DEFAULT '',
    description  TEXT    NOT NULL DEFAULT '',
    created_by   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);

-- The members of a static list: the address lower-cased, the display name
-- and the template variables of the CSV's whitelisted columns (JSON
-- object). Never an ID number or a phone number.
CREATE TABLE mail_list_members (
    list_id  BIGINT NOT NULL REFERENCES mail_lists (id),
    email    TEXT   NOT NULL,
    name     TEXT   NOT NULL DEFAULT '',
    vars     TEXT   NOT NULL DEFAULT '{}',
    PRIMARY KEY (list_id, email)
);

-- Addresses no campaign mails: unsubscribed, hard-bounced, complained or
-- entered by hand. Honoured at send time; transactional mail ignores it.
CREATE TABLE mail_suppressions (
    email       TEXT   PRIMARY KEY,
    reason      TEXT   NOT NULL DEFAULT '',
    source      TEXT   NOT NULL CHECK (source IN ('unsubscribe', 'hard_bounce', 'complaint', 'manual')),
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX mail_suppressions_at ON mail_suppressions (created_at);

-- Campaign templates: subject, HTML and plain text in Go's template
-- language, checked against the known variables when saved. A mandatory
-- notice (round windows, results, corrections) carries no unsubscribe.
CREATE TABLE mail_templates (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    subject     TEXT    NOT NULL,
    html        TEXT    NOT NULL DEFAULT '',
    text        TEXT    NOT NULL,
    mandatory   BOOLEAN NOT NULL DEFAULT FALSE,
    version     INTEGER NOT NULL DEFAULT 1,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
