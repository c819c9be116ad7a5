-- Refusals and the regulator access log partitioned by month too (the functions of 0100), by their time column:
-- their ids are sequence numbers that say nothing of the month, and every read of them is by a time range (an
-- office's refusals of a day, detection's window, the access log by key and time) or, for the access log's audit, the
-- whole chain in order. Their primary keys become (id, time) and the access log's unique sequence (seq, at): unique
-- within a month, and across months because the ids and sequence numbers only grow (the access log's are taken
-- under the chain head's row lock). Design: docs/scaling.md ("Time-partitioned tables").
SELECT pishkhan_partition_by_month('refusals', 'created_at', 3);
SELECT pishkhan_partition_by_month('regulator_access_log', 'at', 3);
