-- 0030 permission management (权限开通、撤销、变更) and the history of system
-- parameters.
--
-- Every grant, change, revoke and disabling of an office account is a
-- request carrying the number of its paper form (单据编号); a security
-- administrator reviews it and a second one, neither the requester nor the
-- reviewer, approves it. An emergency revoke takes effect at once and waits
-- in applied_pending_review for the same two steps afterwards. A disable
-- request may come from the daily access review (requested_by NULL: jifen
-- itself).

-- SQLite cannot change a CHECK constraint: the table is rebuilt. No other
-- table references role_requests.
CREATE TEMP TABLE role_requests_copy AS SELECT * FROM role_requests;
DROP TABLE role_requests;
CREATE TABLE role_requests (
    id              INTEGER PRIMARY KEY,
    user_id         BIGINT  NOT NULL REFERENCES users (id),
    role            TEXT    NOT NULL DEFAULT '',
    from_role       TEXT    NOT NULL DEFAULT '',
    action          TEXT    NOT NULL CHECK (action IN ('grant', 'change', 'revoke', 'disable')),
    reason          TEXT    NOT NULL DEFAULT '',
    form_no         TEXT    NOT NULL DEFAULT '',
    emergency       BOOLEAN NOT NULL DEFAULT FALSE,
    requested_by    BIGINT  REFERENCES users (id),
    requested_at    BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'reviewed', 'approved', 'rejected', 'applied_single',
                                                       'applied_pending_review')),
    reviewed_by     BIGINT  NOT NULL DEFAULT 0,
    reviewed_at     BIGINT  NOT NULL DEFAULT 0,
    review_note     TEXT    NOT NULL DEFAULT '',
    decided_by      BIGINT  NOT NULL DEFAULT 0,
    decided_at      BIGINT  NOT NULL DEFAULT 0,
    decision_reason TEXT    NOT NULL DEFAULT '',
    version         INTEGER NOT NULL DEFAULT 1
);
INSERT INTO role_requests (id, user_id, role, action, reason, requested_by, requested_at, status, decided_by, decided_at,
    decision_reason)
SELECT id, user_id, role, action, reason, requested_by, requested_at, status, decided_by, decided_at, decision_reason
FROM role_requests_copy;
DROP TABLE temp.role_requests_copy;
CREATE INDEX role_requests_status ON role_requests (status);
CREATE INDEX role_requests_requested_at ON role_requests (requested_at);
-- One open request per account, kind and role: a second one conflicts, and
-- the daily access review can run again without opening duplicates.
CREATE UNIQUE INDEX role_requests_open ON role_requests (user_id, action, role) WHERE status IN ('pending', 'reviewed');

-- The last successful login of each account, for the access review;
-- carried over from the audit trail.
ALTER TABLE users ADD COLUMN last_login_at BIGINT NOT NULL DEFAULT 0;
UPDATE users SET last_login_at = COALESCE((SELECT max(a.at) FROM audit_log a
    WHERE a.actor_id = users.id AND a.action = 'account.login' AND a.outcome = 'success'), 0);

-- Every change of a setting made in the office: who, when, old, new, why.
-- A security-relevant setting waits (pending) for a second administrator.
CREATE TABLE settings_history (
    id              INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL,
    old_value       TEXT    NOT NULL,
    new_value       TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    proposed_by     BIGINT  NOT NULL,
    proposed_at     BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('applied', 'applied_single', 'pending', 'rejected')),
    decided_by      BIGINT  NOT NULL DEFAULT 0,
    decided_at      BIGINT  NOT NULL DEFAULT 0,
    decision_reason TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX settings_history_key ON settings_history (key, id);
CREATE UNIQUE INDEX settings_history_pending ON settings_history (key) WHERE status = 'pending';
