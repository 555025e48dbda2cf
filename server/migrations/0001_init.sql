-- AuthGate schema, version 1: the records of the redb backend (server/src/store/records.rs)
-- as columns, plus the shared ephemeral state of many instances.
-- Times are Unix seconds (bigint), as in the records; ids and hashes are bytea of fixed length.
-- Applied once by server/src/store/pg/migrate.rs inside a transaction under an advisory lock.

CREATE TABLE users (
    id            text PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    bigint NOT NULL
);

CREATE TABLE clients (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    secret_hash bytea CHECK (octet_length(secret_hash) = 32),
    scopes      text[] NOT NULL DEFAULT '{}',
    grant_types text[] NOT NULL DEFAULT '{}',
    disabled    boolean NOT NULL DEFAULT false,
    access_ttl  bigint,
    refresh_ttl bigint,
    created_at  bigint NOT NULL,
    audiences   text[] NOT NULL DEFAULT '{}'
);

-- DeviceAuth, keyed by the time-ordered id inside the device code. DeviceStatus is
-- flattened: `status` plus the approver (Approved) and the time of the last transition.
CREATE TABLE device_requests (
    id           bytea PRIMARY KEY CHECK (octet_length(id) = 16),
    code_hash    bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    client_id    text NOT NULL,
    scope        text NOT NULL,
    user_code    text NOT NULL,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    interval     integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    approver_id  text,
    approver_name text,
    status_at    bigint,
    requester_ip text NOT NULL,
    user_agent   text NOT NULL,
    CHECK ((status = 'approved') = (approver_id IS NOT NULL AND approver_name IS NOT NULL)),
    CHECK ((status = 'pending') = (status_at IS NULL))
);
CREATE INDEX device_requests_expires_at ON device_requests (expires_at);

-- The user code -> request lookup shared by every instance: one row per code while a
-- request may hold it. A code is taken by INSERT ... ON CONFLICT DO UPDATE ... WHERE the
-- holder expired, so two instances can never both hand out a live code.
CREATE TABLE user_codes (
    user_code  text PRIMARY KEY,
    request_id bytea NOT NULL REFERENCES device_requests (id) ON DELETE CASCADE,
    client_id  text NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX user_codes_client ON user_codes (client_id, expires_at);
CREATE INDEX user_codes_request ON user_codes (request_id);
-- The server-wide pending count (`pending_codes`): live codes only.
CREATE INDEX user_codes_expiry ON user_codes (expires_at);

CREATE TABLE grants (
    id                bytea PRIMARY KEY CHECK (octet_length(id) = 16),
    user_id           text NOT NULL,
    username          text NOT NULL,
    client_id         text NOT NULL,
    scope             text NOT NULL,
    created_at        bigint NOT NULL,
    last_refreshed_at bigint,
    expires_at        bigint NOT NULL,
    current_refresh   bytea NOT NULL CHECK (octet_length(current_refresh) = 32),
    revoked           boolean NOT NULL DEFAULT false,
    device_ip         text NOT NULL,
    refresh_id        bytea NOT NULL CHECK (octet_length(refresh_id) = 16),
    jti               text NOT NULL
);
-- The account page reads one user's grants, newest first, from this index alone, so
-- its cost follows that user's grants, not everyone's; `client disable` uses the other.
CREATE INDEX grants_by_user ON grants (user_id, created_at);
CREATE INDEX grants_by_client ON grants (client_id) WHERE NOT revoked;
CREATE INDEX grants_expires_at ON grants (expires_at);

-- RefreshToken, keyed by the id inside the token. Superseded tokens stay (reuse detection).
CREATE TABLE refresh_tokens (
    id         bytea PRIMARY KEY CHECK (octet_length(id) = 16),
    token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    grant_id   bytea NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    expires_at bigint NOT NULL
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

-- AccessToken, keyed by jti.
CREATE TABLE access_tokens (
    jti        text PRIMARY KEY,
    grant_id   bytea NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    expires_at bigint NOT NULL,
    revoked    boolean NOT NULL DEFAULT false
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- Signing keys shared by every instance (`authgate key rotate` through any of them).
CREATE TABLE signing_keys (
    kid        text PRIMARY KEY,
    secret     bytea NOT NULL,
    created_at bigint NOT NULL,
    retired_at bigint,
    is_current boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (is_current) WHERE is_current;

-- Server-wide secrets (the META table of redb: CSRF key ...), created once.
CREATE TABLE meta (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

-- Session + SessionMeta, keyed by SHA-256 of the cookie. Both records carry the sign-in
-- time (set from one clock reading at login): one `created_at` column holds it.
CREATE TABLE sessions (
    id           bytea PRIMARY KEY CHECK (octet_length(id) = 32),
    user_id      text NOT NULL,
    username     text NOT NULL,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    idle_secs    bigint NOT NULL,
    ip           text NOT NULL,
    user_agent   text NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- AuditEvent; `kind` is the AuditKind's stable name.
CREATE TABLE audit (
    seq     bigint PRIMARY KEY,
    at      bigint NOT NULL,
    kind    text NOT NULL,
    actor   text NOT NULL,
    subject text NOT NULL,
    ip      text NOT NULL,
    detail  text NOT NULL
);

-- Ephemeral state shared by every instance, written on the hot paths (every poll,
-- every wrong user code, every login attempt): UNLOGGED, so these writes produce no
-- WAL and cost no fsync. After a crash of PostgreSQL the table comes back empty, which
-- only forgets pacing and throttle counts, never a grant.
--   scope 'poll'  key = device request id (hex): window_start = last poll, count unused
--   scope 'guess' / 'login' / 'device_auth': a fixed window counter per key (IP, user)
CREATE UNLOGGED TABLE rate_counters (
    scope        text NOT NULL,
    key          text NOT NULL,
    window_start bigint NOT NULL,
    count        integer NOT NULL,
    expires_at   bigint NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_counters_expires_at ON rate_counters (expires_at);
