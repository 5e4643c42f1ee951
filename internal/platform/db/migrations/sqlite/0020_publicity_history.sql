-- 0020: past official 公示 lists (历年公示), imported from the city's
-- published files as historical rounds. A round per year; its entries are
-- the file's rows. Points are hundredths; an indicator column is NULL when
-- the year's file does not publish the indicators (2021), name and
-- employer are '' when the file has none (shown as 未公布).
CREATE TABLE publicity_rounds (
    year        INTEGER PRIMARY KEY,
    quota       INTEGER NOT NULL,
    cutoff      BIGINT  NOT NULL,
    qualified   INTEGER NOT NULL,
    indicators  BOOLEAN NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('imported')),
    file_sm3    TEXT    NOT NULL,
    imported_at BIGINT  NOT NULL,
    imported_by TEXT    NOT NULL
);
CREATE TABLE publicity_entries (
    year                INTEGER NOT NULL REFERENCES publicity_rounds (year),
    seq                 INTEGER NOT NULL,
    number              TEXT    NOT NULL,
    name                TEXT    NOT NULL DEFAULT '',
    born                TEXT    NOT NULL,
    employer            TEXT    NOT NULL DEFAULT '',
    total               BIGINT  NOT NULL,
    employment          BIGINT,
    housing             BIGINT,
    education           BIGINT,
    study_deduction     BIGINT,
    work_residence_area BIGINT,
    innovation          BIGINT,
    tax                 BIGINT,
    age                 BIGINT,
    honors              BIGINT,
    law_record          BIGINT,
    PRIMARY KEY (year, seq),
    UNIQUE (year, number)
);
