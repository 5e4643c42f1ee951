-- 复查 case handling (internal/review): one row per application under
-- review, whose version guards every decision so that of two officers
-- acting on the same case at once exactly one wins.
CREATE TABLE review_cases (
    application_id BIGINT  NOT NULL PRIMARY KEY REFERENCES applications (id),
    status         TEXT    NOT NULL CHECK (status IN ('open', 'approval', 'decided')),
    version        INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);

-- The district's decision on one indicator the applicant asked to be
-- re-examined: upheld (the request stands; corrected holds the facts of
-- that indicator as a declaration's JSON when the evidence changed them)
-- or rejected (the first result stands).
CREATE TABLE review_decisions (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES applications (id),
    indicator      TEXT   NOT NULL,
    outcome        TEXT   NOT NULL CHECK (outcome IN ('upheld', 'rejected')),
    reason         TEXT   NOT NULL,
    corrected      TEXT   NOT NULL DEFAULT '',
    decided_by     BIGINT NOT NULL,
    decided_at     BIGINT NOT NULL,
    UNIQUE (application_id, indicator)
);

-- A change of score that a review's decisions cause: it takes effect only
-- when an officer other than the deciders approves it.
CREATE TABLE score_changes (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT  NOT NULL UNIQUE REFERENCES applications (id),
    old_score      BIGINT  NOT NULL,
    new_score      BIGINT  NOT NULL,
    old_eligible   BOOLEAN NOT NULL,
    new_eligible   BOOLEAN NOT NULL,
    facts          TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    proposed_by    BIGINT  NOT NULL,
    proposed_at    BIGINT  NOT NULL,
    decided_by     BIGINT  NOT NULL DEFAULT 0,
    decided_at     BIGINT  NOT NULL DEFAULT 0,
    note           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX score_changes_status ON score_changes (status, proposed_at);

-- Appointment slots of a district's service window for in-person checks
-- (现场审核): one per day and half day, with its capacity and the number
-- booked, which a conditional write keeps at or below the capacity.
CREATE TABLE inspection_slots (
    id         INTEGER PRIMARY KEY,
    district   TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    half       TEXT    NOT NULL CHECK (half IN ('am', 'pm')),
    capacity   INTEGER NOT NULL CHECK (capacity > 0),
    booked     INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0),
    created_by BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    UNIQUE (district, day, half)
);

-- The in-person check an officer required of a review's applicant: the
-- indicators it concerns, the booked slot (0: none yet), and the recorded
-- attendance and outcome with its evidence.
CREATE TABLE inspection_bookings (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT  NOT NULL UNIQUE REFERENCES applications (id),
    indicators     TEXT    NOT NULL,
    note           TEXT    NOT NULL,
    required_by    BIGINT  NOT NULL,
    required_at    BIGINT  NOT NULL,
    slot_id        BIGINT  NOT NULL DEFAULT 0,
    booked_at      BIGINT  NOT NULL DEFAULT 0,
    attendance     TEXT    NOT NULL DEFAULT '' CHECK (attendance IN ('', 'attended', 'absent')),
    outcome        TEXT    NOT NULL DEFAULT '',
    evidence_key   TEXT    NOT NULL DEFAULT '',
    evidence_name  TEXT    NOT NULL DEFAULT '',
    evidence_type  TEXT    NOT NULL DEFAULT '',
    recorded_by    BIGINT  NOT NULL DEFAULT 0,
    recorded_at    BIGINT  NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inspection_bookings_slot ON inspection_bookings (slot_id);
