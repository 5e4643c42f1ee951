-- 0026: what the office statistics (docs/statistics.md) group and refresh by.
--
-- An employer's industry (GB/T 4754-2017 section letter, A–T) and size
-- (large, medium, small, micro under 统计上大中小微型企业划分办法), declared
-- at registration; '' for an employer that registered before they were
-- asked (shown as 未填写).
ALTER TABLE employers ADD COLUMN industry TEXT NOT NULL DEFAULT '';
ALTER TABLE employers ADD COLUMN size TEXT NOT NULL DEFAULT '';

-- The statistics cube reads the applications and employers changed since
-- its last refresh: every write to either sets updated_at.
CREATE INDEX applications_updated ON applications (updated_at);
CREATE INDEX employers_updated ON employers (updated_at);
