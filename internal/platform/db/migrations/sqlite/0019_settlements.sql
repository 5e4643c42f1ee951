-- 0019: the settlement hand-off (落户办理). One row per qualified
-- application of a committed ranking once its settlement is recorded; an
-- application without a row is still pending.
CREATE TABLE settlements (
    application_id BIGINT  PRIMARY KEY,
    round_id       BIGINT  NOT NULL REFERENCES rounds (id),
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'settled', 'declined', 'expired')),
    note           TEXT    NOT NULL DEFAULT '',
    decided_by     BIGINT  NOT NULL DEFAULT 0,
    decided_at     BIGINT  NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX settlements_round_status ON settlements (round_id, status);
