-- The approving body's detached signature of each approval ({"algorithm", "key_id", "signature"}), checked by every
-- gateway process before it prices a charge from the approval. Approvals stored before signatures were required
-- have none: every gateway refuses them until they are loaded again with their signature files.
ALTER TABLE tariff_approvals ADD COLUMN signature jsonb;
