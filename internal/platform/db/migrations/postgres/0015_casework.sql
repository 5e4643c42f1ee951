-- Case work (issue 12): the working-day calendar, the service clock of
-- every application and the officers' assignments.

-- The calendar of public holidays and 调休 working weekends (internal/
-- calendar). A date not listed is a working day from Monday to Friday and a
-- rest day on Saturday and Sunday; a row overrides that: 'holiday' rests on
-- a weekday, 'workday' works on a weekend. The rows below are the State
-- Council's schedules for 2025 (国办发明电〔2024〕12号) and 2026
-- (国办发明电〔2025〕7号); 2027 holds only the statutory holidays by the
-- lunar dates of 2027 and must be checked against the State Council's
-- notice when it is published (the office page /office/calendar edits it).
CREATE TABLE calendar_days (
    date       TEXT   PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name       TEXT   NOT NULL DEFAULT '',
    updated_by TEXT   NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL DEFAULT 0
);
INSERT INTO calendar_days (date, kind, name, updated_by, updated_at) VALUES
    ('2025-01-01', 'holiday', '元旦', 'migration', 0),
    ('2025-01-26', 'workday', '春节调休上班', 'migration', 0),
    ('2025-01-28', 'holiday', '春节', 'migration', 0),
    ('2025-01-29', 'holiday', '春节', 'migration', 0),
    ('2025-01-30', 'holiday', '春节', 'migration', 0),
    ('2025-01-31', 'holiday', '春节', 'migration', 0),
    ('2025-02-01', 'holiday', '春节', 'migration', 0),
    ('2025-02-02', 'holiday', '春节', 'migration', 0),
    ('2025-02-03', 'holiday', '春节', 'migration', 0),
    ('2025-02-04', 'holiday', '春节', 'migration', 0),
    ('2025-02-08', 'workday', '春节调休上班', 'migration', 0),
    ('2025-04-04', 'holiday', '清明节', 'migration', 0),
    ('2025-04-05', 'holiday', '清明节', 'migration', 0),
    ('2025-04-06', 'holiday', '清明节', 'migration', 0),
    ('2025-04-27', 'workday', '劳动节调休上班', 'migration', 0),
    ('2025-05-01', 'holiday', '劳动节', 'migration', 0),
    ('2025-05-02', 'holiday', '劳动节', 'migration', 0),
    ('2025-05-03', 'holiday', '劳动节', 'migration', 0),
    ('2025-05-04', 'holiday', '劳动节', 'migration', 0),
    ('2025-05-05', 'holiday', '劳动节', 'migration', 0),
    ('2025-05-31', 'holiday', '端午节', 'migration', 0),
    ('2025-06-01', 'holiday', '端午节', 'migration', 0),
    ('2025-06-02', 'holiday', '端午节', 'migration', 0),
    ('2025-09-28', 'workday', '国庆节调休上班', 'migration', 0),
    ('2025-10-01', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-02', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-03', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-04', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-05', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-06', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-07', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-08', 'holiday', '国庆节、中秋节', 'migration', 0),
    ('2025-10-11', 'workday', '国庆节调休上班', 'migration', 0),
    ('2026-01-01', 'holiday', '元旦', 'migration', 0),
    ('2026-01-02', 'holiday', '元旦', 'migration', 0),
    ('2026-01-03', 'holiday', '元旦', 'migration', 0),
    ('2026-01-04', 'workday', '元旦调休上班', 'migration', 0),
    ('2026-02-14', 'workday', '春节调休上班', 'migration', 0),
    ('2026-02-15', 'holiday', '春节', 'migration', 0),
    ('2026-02-16', 'holiday', '春节', 'migration', 0),
    ('2026-02-17', 'holiday', '春节', 'migration', 0),
    ('2026-02-18', 'holiday', '春节', 'migration', 0),
    ('2026-02-19', 'holiday', '春节', 'migration', 0),
    ('2026-02-20', 'holiday', '春节', 'migration', 0),
    ('2026-02-21', 'holiday', '春节', 'migration', 0),
    ('2026-02-22', 'holiday', '春节', 'migration', 0),
    ('2026-02-23', 'holiday', '春节', 'migration', 0),
    ('2026-02-28', 'workday', '春节调休上班', 'migration', 0),
    ('2026-04-04', 'holiday', '清明节', 'migration', 0),
    ('2026-04-05', 'holiday', '清明节', 'migration', 0),
    ('2026-04-06', 'holiday', '清明节', 'migration', 0),
    ('2026-05-01', 'holiday', '劳动节', 'migration', 0),
    ('2026-05-02', 'holiday', '劳动节', 'migration', 0),
    ('2026-05-03', 'holiday', '劳动节', 'migration', 0),
    ('2026-05-04', 'holiday', '劳动节', 'migration', 0),
    ('2026-05-05', 'holiday', '劳动节', 'migration', 0),
    ('2026-05-09', 'workday', '劳动节调休上班', 'migration', 0),
    ('2026-06-19', 'holiday', '端午节', 'migration', 0),
    ('2026-06-20', 'holiday', '端午节', 'migration', 0),
    ('2026-06-21', 'holiday', '端午节', 'migration', 0),
    ('2026-09-20', 'workday', '国庆节调休上班', 'migration', 0),
    ('2026-09-25', 'holiday', '中秋节', 'migration', 0),
    ('2026-09-26', 'holiday', '中秋节', 'migration', 0),
    ('2026-09-27', 'holiday', '中秋节', 'migration', 0),
    ('2026-10-01', 'holiday', '国庆节', 'migration', 0),
    ('2026-10-02', 'holiday', '国庆节', 'migration', 0),
    ('2026-10-03', 'holiday', '国庆节', 'migration', 0),
    ('2026-10-04', 'holiday', '国庆节', 'migration', 0),
    ('2026-10-05', 'holiday', '国庆节', 'migration', 0),
    ('2026-10-06', 'holiday', '国庆节', 'migration', 0),
    ('2026-10-07', 'holiday', '国庆节', 'migration', 0),
    ('2026-10-10', 'workday', '国庆节调休上班', 'migration', 0),
    ('2027-01-01', 'holiday', '元旦（法定假日，待核对）', 'migration', 0),
    ('2027-02-05', 'holiday', '春节（法定假日，待核对）', 'migration', 0),
    ('2027-02-06', 'holiday', '春节（法定假日，待核对）', 'migration', 0),
    ('2027-02-07', 'holiday', '春节（法定假日，待核对）', 'migration', 0),
    ('2027-02-08', 'holiday', '春节（法定假日，待核对）', 'migration', 0),
    ('2027-04-05', 'holiday', '清明节（法定假日，待核对）', 'migration', 0),
    ('2027-05-01', 'holiday', '劳动节（法定假日，待核对）', 'migration', 0),
    ('2027-05-02', 'holiday', '劳动节（法定假日，待核对）', 'migration', 0),
    ('2027-06-09', 'holiday', '端午节（法定假日，待核对）', 'migration', 0),
    ('2027-09-15', 'holiday', '中秋节（法定假日，待核对）', 'migration', 0),
    ('2027-10-01', 'holiday', '国庆节（法定假日，待核对）', 'migration', 0),
    ('2027-10-02', 'holiday', '国庆节（法定假日，待核对）', 'migration', 0),
    ('2027-10-03', 'holiday', '国庆节（法定假日，待核对）', 'migration', 0);

-- The limit of each step of the service clock in working days, per round
-- (internal/casework). A step without a row takes the documented default.
CREATE TABLE step_limits (
    round_id   BIGINT  NOT NULL REFERENCES rounds (id),
    step       TEXT    NOT NULL,
    days       INTEGER NOT NULL CHECK (days BETWEEN 1 AND 200),
    updated_by TEXT    NOT NULL DEFAULT '',
    updated_at BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (round_id, step)
);

-- Who works a case (internal/casework): one officer per application; the
-- primary key is what makes a second claim fail.
CREATE TABLE case_assignments (
    application_id BIGINT NOT NULL PRIMARY KEY REFERENCES applications (id),
    officer_id     BIGINT NOT NULL REFERENCES users (id),
    assigned_by    BIGINT NOT NULL DEFAULT 0,
    assigned_at    BIGINT NOT NULL
);
CREATE INDEX case_assignments_officer ON case_assignments (officer_id, application_id);

-- The service clock on the application (written by internal/application
-- only): the employer's district (so a district's queue is one indexed
-- read), when the current step began and by when it must move (0: no
-- limit). The queue is read in deadline order from these indexes.
ALTER TABLE applications ADD COLUMN district TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN step_started_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN step_due_at BIGINT NOT NULL DEFAULT 0;
UPDATE applications SET district = COALESCE((SELECT e.district FROM employers e WHERE e.id = applications.employer_id), ''),
    step_started_at = updated_at;
-- A case already under way gets an approximate deadline: the default
-- limits in calendar days (5 and 15 working days are about 7 and 21), as
-- the calendar cannot be consulted in SQL. Every step begun from now on
-- gets its exact deadline from internal/casework.
UPDATE applications SET step_due_at = updated_at + 7 * 86400000000 WHERE status = 'first_result';
UPDATE applications SET step_due_at = updated_at + 21 * 86400000000 WHERE status = 'review_requested';
-- The queue reads pages in deadline order from the first two; the counts
-- per status (and overdue) come from the third without reading the table.
CREATE INDEX applications_queue_city ON applications (round_id, step_due_at, id);
CREATE INDEX applications_queue_district ON applications (round_id, district, step_due_at, id);
CREATE INDEX applications_queue_counts ON applications (round_id, district, status, step_due_at);
