-- The regulator access log as a hash chain: each entry carries its place (seq), the hash of the entry before it and
-- its own hash, over its netstring encoding (gateway/core/access_chain.py computes the same bytes):
--   sha256( ns(prev_hash) ns(seq) ns(at as YYYY-MM-DDTHH:MM:SS.ffffffZ) ns(key_id) ns(method) ns(path) ns(query) ns(status) )
--   ns(t) = <number of UTF-8 bytes of t> ":" <t in UTF-8> ","
-- Entries are appended only by pishkhan_log_regulator_access(), which holds the head row's lock while it appends,
-- so concurrent writers chain one after the other. The gateway signs the head every day (signed heads below).

CREATE FUNCTION pishkhan_netstring(t text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT convert_to(octet_length(convert_to(t, 'UTF8'))::text || ':', 'UTF8') || convert_to(t, 'UTF8') || '\x2c'::bytea
$$;

CREATE FUNCTION pishkhan_access_entry_hash(
    prev_hash text, seq bigint, at timestamptz, key_id text, method text, path text, query text, status integer
) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT encode(sha256(
        pishkhan_netstring(prev_hash) || pishkhan_netstring(seq::text)
        || pishkhan_netstring(to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || pishkhan_netstring(key_id) || pishkhan_netstring(method) || pishkhan_netstring(path)
        || pishkhan_netstring(query) || pishkhan_netstring(status::text)
    ), 'hex')
$$;

ALTER TABLE regulator_access_log ADD COLUMN seq bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text;

CREATE TABLE regulator_access_log_head (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

-- Entries written before the chain existed are chained in the order they were written.
DO $$
DECLARE
    entry record;
    previous text := repeat('0', 64);
    n bigint := 0;
BEGIN
    FOR entry IN SELECT * FROM regulator_access_log ORDER BY id LOOP
        n := n + 1;
        UPDATE regulator_access_log SET seq = n, prev_hash = previous,
            hash = pishkhan_access_entry_hash(previous, n, entry.at, entry.key_id, entry.method, entry.path,
                                              entry.query, entry.status)
            WHERE id = entry.id RETURNING hash INTO previous;
    END LOOP;
    INSERT INTO regulator_access_log_head (seq, hash) VALUES (n, previous);
END $$;

ALTER TABLE regulator_access_log ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX regulator_access_log_seq ON regulator_access_log (seq);

CREATE FUNCTION pishkhan_log_regulator_access(
    p_key_id text, p_method text, p_path text, p_query text, p_status integer
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    head regulator_access_log_head%ROWTYPE;
    entry_at timestamptz;
    entry_hash text;
BEGIN
    SELECT * INTO STRICT head FROM regulator_access_log_head FOR UPDATE;
    entry_at := clock_timestamp();  -- taken under the lock, so times follow the chain's order
    entry_hash := pishkhan_access_entry_hash(
        head.hash, head.seq + 1, entry_at, p_key_id, p_method, p_path, p_query, p_status);
    INSERT INTO regulator_access_log (seq, key_id, method, path, query, status, at, prev_hash, hash)
        VALUES (head.seq + 1, p_key_id, p_method, p_path, p_query, p_status, entry_at, head.hash, entry_hash);
    UPDATE regulator_access_log_head SET seq = head.seq + 1, hash = entry_hash;
    RETURN head.seq + 1;
END $$;

-- The chain's head as signed by the gateway's receipt-signing key, once a day and on demand. The regulator keeps
-- the copies it fetches: a history rewritten after a head was signed no longer reaches that head's hash.
CREATE TABLE regulator_access_log_signed_heads (
    seq        bigint PRIMARY KEY,
    hash       text NOT NULL,
    signed_at  timestamptz NOT NULL,
    key_id     text NOT NULL,
    signature  text NOT NULL
);
