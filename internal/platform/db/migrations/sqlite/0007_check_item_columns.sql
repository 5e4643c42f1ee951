-- Columns that hold a check item's code (rules.CheckItems: 'eligibility' or
-- an indicator code) are named for what they hold. The check_runs scope
-- value 'indicator' stays as stored (SQLite cannot change a CHECK
-- constraint without rebuilding the table); it means "one check item".
ALTER TABLE check_runs RENAME COLUMN indicator TO item;
ALTER TABLE discrepancies RENAME COLUMN indicator TO item;
