-- 0021: access statistics of the internet listener (访问指标统计). One row
-- per UTC Unix minute and route pattern, added to by every process's flush
-- (an upsert), never a row per request and never a client address. The
-- row with page '*' holds the site-wide counts: visitors first seen in the
-- hour (visitors_hour) and in the Beijing day (visitors_day) during that
-- minute, so a sum over an hour or a day is that period's unique visitors.
-- lat_* is a histogram of response times: requests at most 5, 10, 25, 50,
-- 100, 250, 1000 ms, and slower.
CREATE TABLE access_minutes (
    minute         BIGINT NOT NULL,
    page           TEXT   NOT NULL,
    views          BIGINT NOT NULL DEFAULT 0,
    visitors_hour  BIGINT NOT NULL DEFAULT 0,
    visitors_day   BIGINT NOT NULL DEFAULT 0,
    searches       BIGINT NOT NULL DEFAULT 0,
    searches_found BIGINT NOT NULL DEFAULT 0,
    errors_4xx     BIGINT NOT NULL DEFAULT 0,
    errors_5xx     BIGINT NOT NULL DEFAULT 0,
    objections     BIGINT NOT NULL DEFAULT 0,
    total_ms       BIGINT NOT NULL DEFAULT 0,
    lat_5          BIGINT NOT NULL DEFAULT 0,
    lat_10         BIGINT NOT NULL DEFAULT 0,
    lat_25         BIGINT NOT NULL DEFAULT 0,
    lat_50         BIGINT NOT NULL DEFAULT 0,
    lat_100        BIGINT NOT NULL DEFAULT 0,
    lat_250        BIGINT NOT NULL DEFAULT 0,
    lat_1000       BIGINT NOT NULL DEFAULT 0,
    lat_slow       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, page)
);
