-- AuthGate schema, version 5: authorization codes (RFC 6749 §4.1 with PKCE, issue 16).
-- AuthCode, keyed by the time-ordered id inside the code; only its SHA-256 is kept.
-- A redeemed code keeps the grant it issued (grant_id), so presenting it again
-- revokes that grant (RFC 6749 §4.1.2). No foreign key to grants: the sweep may
-- delete the grant first, and a code outlives nothing but its grace period.
CREATE TABLE authorization_codes (
    id             bytea PRIMARY KEY CHECK (octet_length(id) = 16),
    code_hash      bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    client_id      text NOT NULL,
    redirect_uri   text,
    code_challenge text NOT NULL CHECK (length(code_challenge) = 43),
    scope          text NOT NULL,
    user_id        text NOT NULL,
    username       text NOT NULL,
    created_at     bigint NOT NULL,
    expires_at     bigint NOT NULL,
    redeemed_at    bigint,
    grant_id       bytea CHECK (grant_id IS NULL OR octet_length(grant_id) = 16),
    CHECK ((redeemed_at IS NULL) = (grant_id IS NULL))
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
