-- Carry-over between rounds (issue 17, item 2): what a person declared in
-- their last application of an earlier round, prepared for the new round.
-- The row waits here until the applicant opens their application (which
-- needs an employer confirmed for the new round: the link is not carried),
-- then application_id names the draft made from it. items is the JSON list
-- of carried items not yet confirmed by the applicant, each with its source
-- year and, when it needs attention, the reason.
CREATE TABLE application_carryovers (
    id                  BIGSERIAL PRIMARY KEY,
    round_id            BIGINT  NOT NULL REFERENCES rounds (id),
    person_id           BIGINT  NOT NULL REFERENCES persons (id),
    from_application_id BIGINT  NOT NULL REFERENCES applications (id),
    from_year           INTEGER NOT NULL,
    declaration         TEXT    NOT NULL,
    items               TEXT    NOT NULL,
    application_id      BIGINT  NOT NULL DEFAULT 0,
    created_at          BIGINT  NOT NULL,
    UNIQUE (round_id, person_id)
);
CREATE INDEX application_carryovers_app ON application_carryovers (application_id);
