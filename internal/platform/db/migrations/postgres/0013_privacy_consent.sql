-- Consent to the privacy notice (个人信息处理规则) at registration: the
-- version of the notice the account holder accepted and when. Accounts
-- made otherwise (staff, the command line) carry '' and 0.
ALTER TABLE users ADD COLUMN privacy_version TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN privacy_accepted_at BIGINT NOT NULL DEFAULT 0;
