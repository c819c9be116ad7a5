-- A charge's tracking code is its receipt's, and nothing looks a charge up by it (the receipt is found by its
-- tracking code in receipts, which keep it unique per issue month). Since charges are partitioned by id, the
-- tracking code's unique index is (tracking_code, id), which the primary key already makes unique: it checked
-- nothing, and it cost every charge two index entries, one at the insert and one at the completion's update.
-- docs/performance.md, "PostgreSQL cost per charge", lists each index the money path writes and why it stays.
ALTER TABLE charges DROP CONSTRAINT charges_tracking_code_key;
