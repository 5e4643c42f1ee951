-- 0001 foundation: accounts, sessions, roles, settings and the audit trail.
-- Times are UTC Unix microseconds (BIGINT).

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    login                TEXT    NOT NULL UNIQUE,
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
    updated_at           BIGINT  NOT NULL
);
CREATE INDEX users_phone_idx ON users (phone_idx);

-- Failed logins are counted per login name, whether or not an account has
-- that name, so a locked or unknown name answers exactly like a known one.
CREATE TABLE login_attempts (
    login        TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE user_roles (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    role       TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    granted_by BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role);

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    zone         TEXT    NOT NULL,
    stage        TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    client_addr  TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE role_requests (
    id              INTEGER PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    role            TEXT   NOT NULL,
    action          TEXT   NOT NULL CHECK (action IN ('grant', 'revoke')),
    reason          TEXT   NOT NULL DEFAULT '',
    requested_by    BIGINT NOT NULL REFERENCES users (id),
    requested_at    BIGINT NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'applied_single')),
    decided_by      BIGINT NOT NULL DEFAULT 0,
    decided_at      BIGINT NOT NULL DEFAULT 0,
    decision_reason TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX role_requests_status ON role_requests (status);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_id   BIGINT NOT NULL,
    last_hash TEXT   NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '');

CREATE TABLE audit_archives (
    id         INTEGER PRIMARY KEY,
    first_id   BIGINT NOT NULL,
    last_id    BIGINT NOT NULL,
    last_hash  TEXT   NOT NULL,
    file       TEXT   NOT NULL,
    file_sm3   TEXT   NOT NULL,
    row_count  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id          BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    BIGINT NOT NULL DEFAULT 0,
    actor_login TEXT   NOT NULL DEFAULT '',
    actor_role  TEXT   NOT NULL DEFAULT '',
    client_addr TEXT   NOT NULL DEFAULT '',
    action      TEXT   NOT NULL,
    object_type TEXT   NOT NULL DEFAULT '',
    object_id   TEXT   NOT NULL DEFAULT '',
    outcome     TEXT   NOT NULL,
    reason      TEXT   NOT NULL DEFAULT '',
    request_id  TEXT   NOT NULL DEFAULT '',
    prev_hash   TEXT   NOT NULL,
    hash        TEXT   NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_login, at);
CREATE INDEX audit_log_action ON audit_log (action, at);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

-- The audit trail is append-only: the database itself refuses to change a row,
-- and deletes only rows already written to a recorded archive (retention).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_archives a WHERE OLD.id BETWEEN a.first_id AND a.last_id)
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows can only be purged after archiving');
END;
CREATE TRIGGER audit_archives_no_update BEFORE UPDATE ON audit_archives
BEGIN
    SELECT RAISE(ABORT, 'audit_archives is append-only');
END;
CREATE TRIGGER audit_archives_no_delete BEFORE DELETE ON audit_archives
BEGIN
    SELECT RAISE(ABORT, 'audit_archives is append-only');
END;
