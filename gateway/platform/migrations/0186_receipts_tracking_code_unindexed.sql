-- A receipt's tracking code is its office code and sequence number with a check digit (gateway/core/identifiers.py),
-- so every look-up by tracking code parses the code and reads the receipt through the primary key
-- (office_id, seq, issued_at), comparing the stored code on the row it finds (gateway/receipt_book/store.py,
-- gateway/complaints/store.py). The tracking code's unique index (tracking_code, issued_at) then has no reader, and
-- it enforced nothing the chain does not: (office_id, seq) is unique through the chain head's compare-and-set, and
-- the code is made from those two. It cost every receipt an index entry in the completion statement.
ALTER TABLE receipts DROP CONSTRAINT receipts_tracking_code_key;
