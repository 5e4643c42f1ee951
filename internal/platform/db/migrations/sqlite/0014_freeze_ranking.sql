-- 0014: the round's freeze and its formal reopening, and the committed
-- ranking (DOMAIN.md §6, docs/ranking.md).
--
-- A frozen round's scores can no longer change (frozen_at > 0). Reopening
-- needs a second officer's approval (round_reopenings). A ranking is stored
-- as a draft of a frozen round and then committed; a committed ranking and
-- its entries are immutable: the triggers below refuse every UPDATE and
-- DELETE, so not even a careless manual statement changes a published list.

ALTER TABLE rounds ADD COLUMN frozen_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rounds ADD COLUMN frozen_by BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rounds ADD COLUMN state_version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE round_reopenings (
    id           INTEGER PRIMARY KEY,
    round_id     BIGINT  NOT NULL REFERENCES rounds (id),
    reason       TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by BIGINT  NOT NULL,
    requested_at BIGINT  NOT NULL,
    decided_by   BIGINT  NOT NULL DEFAULT 0,
    decided_at   BIGINT  NOT NULL DEFAULT 0,
    decision     TEXT    NOT NULL DEFAULT '',
    version      INTEGER NOT NULL DEFAULT 1
);
-- At most one pending reopening per round.
CREATE UNIQUE INDEX round_reopenings_pending ON round_reopenings (round_id) WHERE status = 'pending';

CREATE TABLE rankings (
    id           INTEGER PRIMARY KEY,
    round_id     BIGINT  NOT NULL REFERENCES rounds (id),
    year         INTEGER NOT NULL,
    quota        INTEGER NOT NULL CHECK (quota > 0),
    status       TEXT    NOT NULL CHECK (status IN ('draft', 'committed')),
    ranked       INTEGER NOT NULL,
    qualified    INTEGER NOT NULL,
    cutoff       BIGINT  NOT NULL,
    tied_at_line INTEGER NOT NULL,
    excluded     INTEGER NOT NULL DEFAULT 0,
    digest       TEXT    NOT NULL,
    frozen_at    BIGINT  NOT NULL,
    created_by   BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    committed_by BIGINT  NOT NULL DEFAULT 0,
    committed_at BIGINT  NOT NULL DEFAULT 0
);
-- One committed ranking and one draft at most per round.
CREATE UNIQUE INDEX rankings_one_per_status ON rankings (round_id, status);

CREATE TABLE ranking_entries (
    ranking_id     BIGINT  NOT NULL REFERENCES rankings (id),
    seq            INTEGER NOT NULL,
    application_id BIGINT  NOT NULL,
    person_id      BIGINT  NOT NULL,
    employer_id    BIGINT  NOT NULL,
    rank_no        INTEGER NOT NULL,
    total          BIGINT  NOT NULL,
    birth_ym       INTEGER NOT NULL,
    qualified      BOOLEAN NOT NULL,
    public_no      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (ranking_id, seq)
);
CREATE UNIQUE INDEX ranking_entries_app ON ranking_entries (ranking_id, application_id);
CREATE INDEX ranking_entries_public_no ON ranking_entries (public_no) WHERE public_no <> '';

-- Applications left out of a ranking (a ban in force, 虚假材料库), with the
-- reason the applicant's statement shows.
CREATE TABLE ranking_exclusions (
    ranking_id     BIGINT NOT NULL REFERENCES rankings (id),
    application_id BIGINT NOT NULL,
    reason         TEXT   NOT NULL,
    PRIMARY KEY (ranking_id, application_id)
);

CREATE TRIGGER rankings_committed_no_update BEFORE UPDATE ON rankings WHEN OLD.status = 'committed'
BEGIN SELECT RAISE(ABORT, 'a committed ranking is immutable'); END;
CREATE TRIGGER rankings_committed_no_delete BEFORE DELETE ON rankings WHEN OLD.status = 'committed'
BEGIN SELECT RAISE(ABORT, 'a committed ranking is immutable'); END;
CREATE TRIGGER ranking_entries_no_update BEFORE UPDATE ON ranking_entries
BEGIN SELECT RAISE(ABORT, 'ranking entries are immutable'); END;
CREATE TRIGGER ranking_entries_committed_no_delete BEFORE DELETE ON ranking_entries
WHEN (SELECT status FROM rankings WHERE id = OLD.ranking_id) = 'committed'
BEGIN SELECT RAISE(ABORT, 'a committed ranking is immutable'); END;
CREATE TRIGGER ranking_entries_committed_no_insert BEFORE INSERT ON ranking_entries
WHEN (SELECT status FROM rankings WHERE id = NEW.ranking_id) = 'committed'
BEGIN SELECT RAISE(ABORT, 'a committed ranking is immutable'); END;
CREATE TRIGGER ranking_exclusions_no_update BEFORE UPDATE ON ranking_exclusions
BEGIN SELECT RAISE(ABORT, 'ranking exclusions are immutable'); END;
CREATE TRIGGER ranking_exclusions_committed_no_delete BEFORE DELETE ON ranking_exclusions
WHEN (SELECT status FROM rankings WHERE id = OLD.ranking_id) = 'committed'
BEGIN SELECT RAISE(ABORT, 'a committed ranking is immutable'); END;
CREATE TRIGGER ranking_exclusions_committed_no_insert BEFORE INSERT ON ranking_exclusions
WHEN (SELECT status FROM rankings WHERE id = NEW.ranking_id) = 'committed'
BEGIN SELECT RAISE(ABORT, 'a committed ranking is immutable'); END;
