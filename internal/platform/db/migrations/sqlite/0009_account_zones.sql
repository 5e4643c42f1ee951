-- 0009 accounts: login names are unique per zone, failed logins are counted
-- per zone, and actions on an administrator account wait for a second
-- administrator of another role.
--
-- Staff (office) and public (internet) login names are separate namespaces:
-- registration on the internet sees only internet names, so it cannot confirm
-- that a staff name exists, and an attempt on the internet listener can never
-- count towards a staff account's lockout.

-- SQLite cannot drop a UNIQUE column constraint: the table is rebuilt. Other
-- tables reference users (id); the foreign keys are checked at commit, when
-- every id is back.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE users_copy AS SELECT * FROM users;
DROP TABLE users;
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    login                TEXT    NOT NULL,
    display_name         TEXT    NOT NULL DEFAULT '',
    zone                 TEXT    NOT NULL CHECK (zone IN ('internet', 'office')),
    email                TEXT    NOT NULL DEFAULT '',
    phone_enc            TEXT    NOT NULL DEFAULT '',
    phone_idx            TEXT    NOT NULL DEFAULT '',
    password_hash        TEXT    NOT NULL,
    password_changed_at  BIGINT  NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    totp_secret_enc      TEXT    NOT NULL DEFAULT '',
    totp_enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step       BIGINT  NOT NULL DEFAULT 0,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    demo                 BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    district             TEXT    NOT NULL DEFAULT '',
    UNIQUE (zone, login)
);
INSERT INTO users (id, login, display_name, zone, email, phone_enc, phone_idx, password_hash, password_changed_at,
    must_change_password, totp_secret_enc, totp_enabled, totp_last_step, disabled, demo, created_at, updated_at, district)
SELECT id, login, display_name, zone, email, phone_enc, phone_idx, password_hash, password_changed_at,
    must_change_password, totp_secret_enc, totp_enabled, totp_last_step, disabled, demo, created_at, updated_at, district
FROM users_copy;
DROP TABLE temp.users_copy;
CREATE INDEX users_phone_idx ON users (phone_idx);

-- The counters start afresh: a lock in force at the upgrade is lifted.
DROP TABLE login_attempts;
CREATE TABLE login_attempts (
    zone         TEXT    NOT NULL,
    login        TEXT    NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (zone, login)
);

-- An action of the system administrator on an administrator's account
-- (password reset, disable, enable) waits for a second administrator of
-- another role (三员分立). At most one pending request per account and action.
CREATE TABLE admin_requests (
    id              INTEGER PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    action          TEXT   NOT NULL CHECK (action IN ('reset_password', 'disable', 'enable')),
    reason          TEXT   NOT NULL DEFAULT '',
    requested_by    BIGINT NOT NULL REFERENCES users (id),
    requester_role  TEXT   NOT NULL,
    requested_at    BIGINT NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      BIGINT NOT NULL DEFAULT 0,
    decided_at      BIGINT NOT NULL DEFAULT 0,
    decision_reason TEXT   NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX admin_requests_pending ON admin_requests (user_id, action) WHERE status = 'pending';
CREATE INDEX admin_requests_status ON admin_requests (status, id);
