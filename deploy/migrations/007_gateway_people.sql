-- tb-gateway: the people who log in to the web console and the HTTP API, their
-- sessions and their scripts' bearer tokens (SPEC section 10). Only tb-gateway
-- reads and writes these tables; the services never do.

-- One row per person. `role` is what the services see: 'operator' or the id of
-- the organisation the person works for. `password_hash` is libsodium's
-- crypto_pwhash_str (Argon2id, its parameters in the string).
CREATE TABLE gateway_users (
    name          text        PRIMARY KEY CHECK (name ~ '^[a-z0-9._-]{1,64}$'),
    role          text        NOT NULL CHECK (role ~ '^[a-z0-9._-]{1,64}$'
                                              AND role NOT IN ('operators', 'gateway')),
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A login session (a cookie) or a bearer token (for scripts). Only a hash of the
-- secret is stored: a copy of this table lets nobody in. A session carries its
-- CSRF token, which the browser must echo on every change.
CREATE TABLE gateway_sessions (
    secret_hash text        PRIMARY KEY,  -- hex of BLAKE2b-256 of the secret
    user_name   text        NOT NULL REFERENCES gateway_users (name) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('session', 'token')),
    csrf        text        NOT NULL DEFAULT '',
    label       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX gateway_sessions_user ON gateway_sessions (user_name);
CREATE INDEX gateway_sessions_expiry ON gateway_sessions (expires_at);
