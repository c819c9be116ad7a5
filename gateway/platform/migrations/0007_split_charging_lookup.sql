-- Split-charging detection looks up, for each completed charge, the same recipient's completed charges for the
-- same service at the same office in the window before it. Through charges_office_created that lookup read every
-- charge of the office in the window, so a detection pass grew with the square of a busy office's charges (seconds
-- of database CPU every pass, enough to stall the charges being served meanwhile); through this index it reads
-- only the recipient's own charges.
CREATE INDEX charges_split_lookup ON charges (office_id, recipient_national_code, service_code, completed_at, id)
    WHERE status = 'completed';
