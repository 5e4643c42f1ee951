-- The office home's "待接收的复查申请" and the review list read the forwarded
-- requests of a district oldest first: found by status in forwarding order
-- (the district is the application's, checked per row), instead of every
-- employer of the district and their applications (90 ms with 350,000
-- applicants on SQLite; issue 18's load run).
CREATE INDEX review_requests_status_forwarded ON review_requests (status, forwarded_at, application_id);
