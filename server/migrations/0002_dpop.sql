-- AuthGate schema, version 2: DPoP (RFC 9449, issue 14).
-- The key bindings of the redb records (DeviceAuth.dpop_jkt, Grant.dpop_jkt,
-- Client.dpop) and the shared jti replay cache.

-- RFC 7638 thumbprint (base64url, 43 characters) of the key that asked for the device
-- code; NULL: asked without a proof. Only a proof by this key may redeem the code.
ALTER TABLE device_requests ADD COLUMN dpop_jkt text
    CHECK (dpop_jkt IS NULL OR length(dpop_jkt) BETWEEN 1 AND 64);

-- The key a public client's refresh tokens are bound to (RFC 9449 §5); NULL: unbound.
ALTER TABLE grants ADD COLUMN dpop_jkt text
    CHECK (dpop_jkt IS NULL OR length(dpop_jkt) BETWEEN 1 AND 64);

-- Whether the client must send DPoP proofs (with a server nonce).
ALTER TABLE clients ADD COLUMN dpop text NOT NULL DEFAULT 'optional'
    CHECK (dpop IN ('optional', 'required'));

-- Proofs seen, so a proof (key + jti) is accepted once by any instance. A row lives
-- until the proof's iat could no longer pass the window; INSERT ... ON CONFLICT DO
-- NOTHING inserting 0 rows (and the stored row unexpired) is a replay. UNLOGGED: a
-- write per DPoP request with no WAL and no fsync; after a crash of PostgreSQL the
-- table comes back empty, which forgets proofs at most a couple of minutes old
-- (the iat window bounds what could be replayed).
CREATE UNLOGGED TABLE dpop_jtis (
    key        bytea PRIMARY KEY CHECK (octet_length(key) = 32),
    expires_at bigint NOT NULL
);
CREATE INDEX dpop_jtis_expires_at ON dpop_jtis (expires_at);
