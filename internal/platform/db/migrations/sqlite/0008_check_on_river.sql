-- 0008: the cross-check's batch jobs run on the one job mechanism (River,
-- platform/jobs); check_jobs, its own lease queue, goes. What the queue
-- table also held stays with the cross-check as a ledger, not a queue:
-- check_queries has one row per batch and agency, with the agency's answer
-- once it came and, while it has not, the last failure or the reason the
-- query waits (for the office's progress). Writing an answer is conditional
-- on answered_at = 0 and applying a batch on applied = FALSE, so a job that
-- River runs twice (its worker presumed dead) takes effect once.
CREATE TABLE check_queries (
    run_id      BIGINT  NOT NULL REFERENCES check_runs (id),
    batch_no    INTEGER NOT NULL,
    agency      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    answered_at BIGINT  NOT NULL DEFAULT 0,
    answer      TEXT    NOT NULL DEFAULT '',
    failures    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '',
    wait_reason TEXT    NOT NULL DEFAULT '',
    wait_until  BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, batch_no, agency)
);
CREATE INDEX check_queries_open ON check_queries (run_id, answered_at);
CREATE INDEX check_queries_agency ON check_queries (agency, created_at);

ALTER TABLE check_batches ADD COLUMN applied BOOLEAN NOT NULL DEFAULT FALSE;

-- What was asked and answered so far carries over; a run still in progress
-- gets River jobs for its open work when a worker starts (check.Resume).
INSERT INTO check_queries (run_id, batch_no, agency, created_at, answered_at, answer, last_error, wait_reason, wait_until)
SELECT run_id, batch_no, agency, created_at, CASE WHEN state = 'done' THEN finished_at ELSE 0 END,
       answer, last_error, wait_reason, CASE WHEN wait_reason <> '' THEN run_after ELSE 0 END
FROM check_jobs WHERE kind = 'query';
UPDATE check_batches SET applied = TRUE
WHERE run_id IN (SELECT id FROM check_runs WHERE status IN ('applied', 'discarded'))
   OR (run_id IN (SELECT id FROM check_runs WHERE mode = 'apply') AND scored)
   OR (run_id, batch_no) IN (SELECT run_id, batch_no FROM check_jobs WHERE kind = 'apply' AND state = 'done');

DROP TABLE check_jobs;
