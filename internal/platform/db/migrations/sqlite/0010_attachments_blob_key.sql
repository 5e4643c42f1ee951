-- The sweep of unreferenced blobs (application.Attachments.SweepBlobs) asks,
-- a batch of keys at a time, which blobs a row still names.
CREATE INDEX attachments_blob ON attachments (blob_key);
