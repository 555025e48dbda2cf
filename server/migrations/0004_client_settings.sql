-- AuthGate schema, version 4: per-client settings (issue 16).
-- The fields version 4 of the redb Client record added; every existing client keeps
-- the behaviour it had (no redirect URIs, PASETO tokens, the server's device-code
-- lifetime and poll interval, letter user codes).

-- Where the authorization endpoint may redirect (RFC 6749 §3.1.2), matched exactly
-- (loopback: any port, RFC 8252 §7.3); checked at registration.
ALTER TABLE clients ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}';

-- The format of the client's access tokens: PASETO v4.public or a JWT (RFC 9068).
ALTER TABLE clients ADD COLUMN access_token_format text NOT NULL DEFAULT 'paseto'
    CHECK (access_token_format IN ('paseto', 'jwt'));

-- Device-code lifetime and poll interval overrides, seconds; NULL: the server's.
ALTER TABLE clients ADD COLUMN device_code_ttl bigint CHECK (device_code_ttl > 0);
ALTER TABLE clients ADD COLUMN poll_interval bigint CHECK (poll_interval > 0);

-- The alphabet of the client's user codes.
ALTER TABLE clients ADD COLUMN user_code_format text NOT NULL DEFAULT 'letters'
    CHECK (user_code_format IN ('letters', 'digits'));
