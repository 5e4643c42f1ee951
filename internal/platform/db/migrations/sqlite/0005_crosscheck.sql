-- 0005: the cross-check system (业务比对). Connectors to the partner
-- agencies, check runs and their durable jobs, the call log, the verified
-- scores, and the discrepancy queue (数据比对结果排查).

-- One connector per agency, configured in the office. next_slot is the
-- agency's shared rate limiter: every process reserves the next free call
-- slot here (GCRA), so the limit holds across all worker processes.
CREATE TABLE agency_connectors (
    agency        TEXT    PRIMARY KEY,
    base_url      TEXT    NOT NULL,
    key_enc       TEXT    NOT NULL DEFAULT '',
    rate_per_sec  INTEGER NOT NULL DEFAULT 20 CHECK (rate_per_sec > 0),
    timeout_ms    INTEGER NOT NULL DEFAULT 10000 CHECK (timeout_ms > 0),
    retries       INTEGER NOT NULL DEFAULT 3 CHECK (retries >= 0),
    batch_size    INTEGER NOT NULL DEFAULT 250 CHECK (batch_size BETWEEN 1 AND 500),
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    next_slot     BIGINT  NOT NULL DEFAULT 0,
    breaker       TEXT    NOT NULL DEFAULT 'closed',
    breaker_at    BIGINT  NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    last_error_at BIGINT  NOT NULL DEFAULT 0,
    probe_ok      BOOLEAN NOT NULL DEFAULT TRUE,
    probe_at      BIGINT  NOT NULL DEFAULT 0,
    updated_by    BIGINT  NOT NULL DEFAULT 0,
    updated_at    BIGINT  NOT NULL DEFAULT 0
);

-- A run checks a set of applications: a whole round, one application, or
-- one indicator of one application. mode 'apply' writes the scores as they
-- come (the round's first check); 'preview' keeps them aside until an
-- officer has seen the impact and applies or discards the run.
CREATE TABLE check_runs (
    id             INTEGER PRIMARY KEY,
    round_id       BIGINT  NOT NULL REFERENCES rounds (id),
    scope          TEXT    NOT NULL CHECK (scope IN ('round', 'application', 'indicator')),
    application_id BIGINT  NOT NULL DEFAULT 0,
    indicator      TEXT    NOT NULL DEFAULT '',
    mode           TEXT    NOT NULL CHECK (mode IN ('apply', 'preview')),
    rulebook       TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('running', 'ready', 'applying', 'applied', 'discarded')),
    total          BIGINT  NOT NULL DEFAULT 0,
    batches        INTEGER NOT NULL DEFAULT 0,
    reason         TEXT    NOT NULL DEFAULT '',
    created_by     BIGINT  NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    finished_at    BIGINT  NOT NULL DEFAULT 0,
    decided_by     BIGINT  NOT NULL DEFAULT 0,
    decided_at     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX check_runs_round ON check_runs (round_id, id);

-- A batch of a run: up to batch_size applications, their districts, and how
-- many agencies still owe an answer (the score job is queued at zero).
CREATE TABLE check_batches (
    run_id    BIGINT  NOT NULL REFERENCES check_runs (id),
    batch_no  INTEGER NOT NULL,
    app_ids   TEXT    NOT NULL,
    size      INTEGER NOT NULL,
    districts TEXT    NOT NULL,
    pending   INTEGER NOT NULL,
    scored    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_id, batch_no)
);

-- The durable queue: a job queries one agency for one batch, or scores one
-- batch. A worker leases a job; a crashed worker's lease runs out and the job
-- is taken again. Completing a job and writing its results is one
-- transaction that checks the lease, so a job takes effect once.
CREATE TABLE check_jobs (
    id          INTEGER PRIMARY KEY,
    run_id      BIGINT  NOT NULL REFERENCES check_runs (id),
    batch_no    INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('query', 'score', 'apply')),
    agency      TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_after   BIGINT  NOT NULL,
    lease_until BIGINT  NOT NULL DEFAULT 0,
    lease_token TEXT    NOT NULL DEFAULT '',
    last_error  TEXT    NOT NULL DEFAULT '',
    answer      TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    finished_at BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (run_id, batch_no, kind, agency)
);
CREATE INDEX check_jobs_ready ON check_jobs (state, kind, run_after);
CREATE INDEX check_jobs_run ON check_jobs (run_id, state, agency);

-- Every call to an agency (and every health probe): no personal data, only
-- the digest of the answer. Kept 12 months, then purged by the worker.
CREATE TABLE check_calls (
    id          INTEGER PRIMARY KEY,
    at          BIGINT  NOT NULL,
    agency      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    run_id      BIGINT  NOT NULL DEFAULT 0,
    job_id      BIGINT  NOT NULL DEFAULT 0,
    app_from    BIGINT  NOT NULL DEFAULT 0,
    app_to      BIGINT  NOT NULL DEFAULT 0,
    subjects    INTEGER NOT NULL DEFAULT 0,
    attempt     INTEGER NOT NULL DEFAULT 0,
    latency_us  BIGINT  NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    status      TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    digest      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX check_calls_at ON check_calls (at);
CREATE INDEX check_calls_agency_at ON check_calls (agency, at);
CREATE INDEX check_calls_app ON check_calls (app_from, app_to);

-- The verified result of one application in one run: the facts as the
-- agencies hold them (a calculator request), the outcome of each indicator,
-- and the score.
CREATE TABLE check_scores (
    run_id         BIGINT  NOT NULL REFERENCES check_runs (id),
    application_id BIGINT  NOT NULL REFERENCES applications (id),
    total          BIGINT  NOT NULL,
    eligible       BOOLEAN NOT NULL,
    verified       TEXT    NOT NULL,
    outcomes       TEXT    NOT NULL,
    scored_at      BIGINT  NOT NULL,
    PRIMARY KEY (run_id, application_id)
);

-- The application's first-round result, from the run that was applied.
ALTER TABLE applications ADD COLUMN score BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN score_eligible BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE applications ADD COLUMN score_run BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN scored_at BIGINT NOT NULL DEFAULT 0;

-- Single checks outside runs: the employer against 市场监管 at registration,
-- the applicant's identity and residence permit against 公安 at submission.
-- '' = not yet asked; 'unavailable' is asked again by the worker.
ALTER TABLE employers ADD COLUMN market_check TEXT NOT NULL DEFAULT '';
ALTER TABLE employers ADD COLUMN market_detail TEXT NOT NULL DEFAULT '';
ALTER TABLE employers ADD COLUMN market_checked_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN identity_check TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN identity_detail TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN identity_checked_at BIGINT NOT NULL DEFAULT 0;

-- What did not match, for the district officers of the employer's district.
CREATE TABLE discrepancies (
    id              INTEGER PRIMARY KEY,
    application_id  BIGINT  NOT NULL REFERENCES applications (id),
    run_id          BIGINT  NOT NULL,
    indicator       TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('mismatch', 'not_found')),
    declared        TEXT    NOT NULL,
    verified        TEXT    NOT NULL,
    district        TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'material_requested', 'material_received',
                        'override_pending', 'accepted', 'overridden', 'cleared')),
    deadline        BIGINT  NOT NULL DEFAULT 0,
    request_note    TEXT    NOT NULL DEFAULT '',
    material_note   TEXT    NOT NULL DEFAULT '',
    material_at     BIGINT  NOT NULL DEFAULT 0,
    override_reason TEXT    NOT NULL DEFAULT '',
    override_by     BIGINT  NOT NULL DEFAULT 0,
    approved_by     BIGINT  NOT NULL DEFAULT 0,
    decided_by      BIGINT  NOT NULL DEFAULT 0,
    decided_at      BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (application_id, indicator)
);
CREATE INDEX discrepancies_queue ON discrepancies (district, status, id);
