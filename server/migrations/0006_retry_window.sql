-- AuthGate schema, version 6: the retry window (issue 15). A lost token answer is
-- retried with the credential the device still holds, the refresh token just
-- superseded or the device code just redeemed; these columns let the token endpoint
-- tell such a retry from reuse (server/src/grant/refresh.rs, `IssuedFor`).

-- What the grant's current refresh token answered: NULL, NULL: not recorded (grants
-- of version 5 and older: nothing is retried); issued_for_at only: the device code,
-- redeemed then; both: the rotation of the token with hash issued_for_previous, first
-- at issued_for_at. A retry keeps both, so the window never grows.
ALTER TABLE grants
    ADD COLUMN issued_for_at bigint,
    ADD COLUMN issued_for_previous bytea
        CHECK (issued_for_previous IS NULL OR octet_length(issued_for_previous) = 32),
    ADD CHECK (issued_for_previous IS NULL OR issued_for_at IS NOT NULL);

-- The grant a redeemed request yielded (NULL before version 6: never retried).
-- No foreign key: the sweep deletes dead grants before their requests leave.
ALTER TABLE device_requests ADD COLUMN grant_id bytea
    CHECK (grant_id IS NULL OR (status = 'redeemed' AND octet_length(grant_id) = 16));
