-- 0028: operations monitoring (docs/operations.md): the minute samples of
-- every process, alert rules and alerts, fault records. Owned by package
-- monitor.

-- One value of one metric of one process (source: host and role) in one
-- minute (micros, the minute's start); kept 90 days.
CREATE TABLE monitor_samples (
    minute BIGINT NOT NULL,
    source TEXT   NOT NULL,
    metric TEXT   NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (metric, minute, source)
);
CREATE INDEX monitor_samples_minute ON monitor_samples (minute);

-- The hourly means of the worst source each minute, kept up to date by the
-- evaluation job: the 7-day charts and the quarterly report read these.
CREATE TABLE monitor_hours (
    metric TEXT   NOT NULL,
    hour   BIGINT NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (metric, hour)
);

-- A rule fires when the newest value of metric (the highest over the
-- sources) has been beyond threshold for for_minutes minutes running.
CREATE TABLE alert_rules (
    id          BIGSERIAL PRIMARY KEY,
    metric      TEXT    NOT NULL,
    op          TEXT    NOT NULL CHECK (op IN ('>', '<')),
    threshold   DOUBLE PRECISION NOT NULL,
    for_minutes INTEGER NOT NULL CHECK (for_minutes BETWEEN 1 AND 1440),
    severity    TEXT    NOT NULL CHECK (severity IN ('warning', 'critical')),
    name        TEXT    NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    version     INTEGER NOT NULL DEFAULT 1,
    updated_at  BIGINT  NOT NULL DEFAULT 0,
    updated_by  BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (metric, op)
);

CREATE TABLE alerts (
    id          BIGSERIAL PRIMARY KEY,
    rule_id     BIGINT  NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('firing', 'resolved')),
    value       DOUBLE PRECISION NOT NULL,
    started_at  BIGINT  NOT NULL,
    resolved_at BIGINT  NOT NULL DEFAULT 0,
    fault_id    BIGINT  NOT NULL DEFAULT 0
);
-- At most one firing alert per rule.
CREATE UNIQUE INDEX alerts_one_firing ON alerts (rule_id) WHERE state = 'firing';

-- 故障处理报告: opened from an alert or by hand, closed after a second
-- person's review.
CREATE TABLE faults (
    id           BIGSERIAL PRIMARY KEY,
    title        TEXT    NOT NULL,
    severity     TEXT    NOT NULL CHECK (severity IN ('warning', 'critical')),
    status       TEXT    NOT NULL CHECK (status IN ('open', 'review', 'closed')),
    alert_id     BIGINT  NOT NULL DEFAULT 0,
    impact       TEXT    NOT NULL DEFAULT '',
    cause        TEXT    NOT NULL DEFAULT '',
    fix          TEXT    NOT NULL DEFAULT '',
    followups    TEXT    NOT NULL DEFAULT '',
    started_at   BIGINT  NOT NULL,
    ended_at     BIGINT  NOT NULL DEFAULT 0,
    opened_by    BIGINT  NOT NULL DEFAULT 0,
    submitted_by BIGINT  NOT NULL DEFAULT 0,
    closed_by    BIGINT  NOT NULL DEFAULT 0,
    closed_at    BIGINT  NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX faults_status ON faults (status, created_at);

CREATE TABLE fault_events (
    id       BIGSERIAL PRIMARY KEY,
    fault_id BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    by_user  BIGINT NOT NULL DEFAULT 0,
    by_name  TEXT   NOT NULL DEFAULT '',
    kind     TEXT   NOT NULL,
    text     TEXT   NOT NULL
);
CREATE INDEX fault_events_fault ON fault_events (fault_id, at);

-- Files attached to a fault record (screenshots, log extracts), in the
-- data dir's "faults" store.
CREATE TABLE fault_attachments (
    id           BIGSERIAL PRIMARY KEY,
    fault_id     BIGINT NOT NULL,
    name         TEXT   NOT NULL,
    blob_key     TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT   NOT NULL DEFAULT '',
    added_by     BIGINT NOT NULL DEFAULT 0,
    added_at     BIGINT NOT NULL
);
CREATE INDEX fault_attachments_fault ON fault_attachments (fault_id, id);

-- The built-in rules (docs/operations.md lists them with their Prometheus
-- twins in docs/prometheus-alerts.yml).
INSERT INTO alert_rules (metric, op, threshold, for_minutes, severity, name) VALUES
    ('disk_free_pct', '<', 10, 5, 'critical', '数据目录所在磁盘剩余空间不足10%'),
    ('mem_used_pct', '>', 90, 10, 'warning', '主机内存使用超过90%'),
    ('cpu_pct', '>', 90, 15, 'warning', '主机CPU使用超过90%'),
    ('http_5xx_pct', '>', 1, 5, 'critical', '服务器错误超过请求的1%'),
    ('http_p95_ms', '>', 1000, 10, 'warning', '请求响应时间P95超过1秒'),
    ('jobs_oldest_min', '>', 30, 5, 'warning', '后台任务等待超过30分钟'),
    ('mail_backlog', '>', 20000, 15, 'warning', '待发邮件积压超过2万封'),
    ('agencies_down', '>', 0, 10, 'critical', '委办局接口不可用'),
    ('backup_age_h', '>', 192, 60, 'critical', '超过8天没有成功的备份'),
    ('backup_drill_failed', '>', 0, 1, 'critical', '备份恢复演练失败'),
    ('log_write_failures', '>', 0, 1, 'critical', '日志文件写入失败');
