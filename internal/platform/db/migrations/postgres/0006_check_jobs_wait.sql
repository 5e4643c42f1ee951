-- 0006: a check job can wait for its agency without having failed. When the
-- agency's circuit breaker is open or the agency answered 429, the job goes
-- back to the queue with wait_reason set ('breaker' | 'rate_limited') and
-- without counting an attempt, so an outage does not grow the job's backoff;
-- progress shows such jobs as waiting for the agency, not as failed.
ALTER TABLE check_jobs ADD COLUMN wait_reason TEXT NOT NULL DEFAULT '';
