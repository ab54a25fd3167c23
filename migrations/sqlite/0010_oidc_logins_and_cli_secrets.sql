-- OIDC sign-ins in flight: what the callback needs to finish one (the PKCE
-- verifier and the nonce), keyed by a digest of the `state` sent to the
-- provider. Kept in the database so the callback may reach any node; each
-- row is used once and lives a few minutes.
CREATE TABLE oidc_logins (
    state_hash    TEXT        PRIMARY KEY,
    nonce         TEXT        NOT NULL,
    pkce_verifier TEXT        NOT NULL,
    -- Where the browser goes afterwards (a path on this site).
    next_path     TEXT        NOT NULL,
    expires_at    TEXT        NOT NULL
);
CREATE INDEX oidc_logins_expiry_idx ON oidc_logins (expires_at);

-- The secret an OIDC user gives `docker login` instead of a password. The
-- SHA-256 digest checks it; the sealed copy (AES-256-GCM under the
-- 'cli-secrets' key in signing_keys) lets the profile page show it again.
CREATE TABLE cli_secrets (
    user_id     INTEGER     PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT        NOT NULL,
    sealed      BLOB        NOT NULL,
    created_at  TEXT        NOT NULL
);
