-- The last entry of the regulator access log's retired months (`pishkhan partitions export-and-detach`): the chain
-- stored in the database goes on from its seq and hash, so the audit starts there instead of at the genesis hash. The
-- retired entries themselves are in the export, chained up to this one.
CREATE TABLE regulator_access_log_anchor (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq         bigint NOT NULL,
    hash        text NOT NULL,
    retired_at  timestamptz NOT NULL
);
