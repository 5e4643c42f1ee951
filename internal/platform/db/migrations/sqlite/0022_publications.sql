-- 0022: publication of a round's list (积分公示, DOMAIN.md §6, docs/publicity.md)
-- and the correction of a committed ranking.
--
-- A publication is one version of a round's published list: the canonical
-- file (docs/publicity.md §1) as published, its SM3 and SHA-256 digests, the
-- Merkle root over its rows, and the notice period. It never changes: a
-- correction is a new row with version + 1 (the triggers below refuse every
-- UPDATE and DELETE). Owned by package publicity.
CREATE TABLE publications (
    id            INTEGER PRIMARY KEY,
    round_id      BIGINT  NOT NULL REFERENCES rounds (id),
    year          INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version > 0),
    ranking_id    BIGINT  NOT NULL REFERENCES rankings (id),
    notice_start  TEXT    NOT NULL,
    notice_end    TEXT    NOT NULL,
    quota         INTEGER NOT NULL,
    cutoff        BIGINT  NOT NULL,
    qualified     INTEGER NOT NULL,
    row_count     INTEGER NOT NULL,
    canonical     TEXT    NOT NULL,
    sm3           TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    merkle_root   TEXT    NOT NULL,
    reason        TEXT    NOT NULL DEFAULT '',
    published_by  BIGINT  NOT NULL,
    published_at  BIGINT  NOT NULL,
    UNIQUE (year, version),
    UNIQUE (ranking_id)
);
CREATE INDEX publications_round ON publications (round_id, version);

-- A committed ranking superseded by the formal reopening of its round (a
-- correction, e.g. after an upheld objection): it stays, immutable, as the
-- record of what was published; the round's current ranking is its newest
-- committed one that is not superseded. Owned by package ranking.
CREATE TABLE ranking_supersessions (
    ranking_id    BIGINT  PRIMARY KEY REFERENCES rankings (id),
    reopening_id  BIGINT  NOT NULL,
    superseded_by BIGINT  NOT NULL,
    superseded_at BIGINT  NOT NULL
);

-- One draft per round at most; committed rankings are now one current plus
-- the superseded ones, which the ranking package keeps to one current under
-- the round's lock.
DROP INDEX rankings_one_per_status;
CREATE UNIQUE INDEX rankings_one_draft ON rankings (round_id) WHERE status = 'draft';

CREATE TRIGGER publications_no_update BEFORE UPDATE ON publications
BEGIN SELECT RAISE(ABORT, 'a publication is immutable'); END;
CREATE TRIGGER publications_no_delete BEFORE DELETE ON publications
BEGIN SELECT RAISE(ABORT, 'a publication is immutable'); END;
CREATE TRIGGER ranking_supersessions_no_update BEFORE UPDATE ON ranking_supersessions
BEGIN SELECT RAISE(ABORT, 'a supersession is immutable'); END;
CREATE TRIGGER ranking_supersessions_no_delete BEFORE DELETE ON ranking_supersessions
BEGIN SELECT RAISE(ABORT, 'a supersession is immutable'); END;
