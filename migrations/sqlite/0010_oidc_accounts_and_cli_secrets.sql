-- OIDC accounts: an identity is its issuer and subject (users.external_id),
-- whatever username it goes by; one account per identity.
CREATE UNIQUE INDEX users_external_identity_key ON users (auth_source, external_id) WHERE external_id IS NOT NULL;

-- The secret an OIDC user gives `docker login` instead of a password. The
-- SHA-256 digest checks it; the sealed copy (AES-256-GCM under the 'sealing'
-- key in signing_keys) lets the profile page show it again.
CREATE TABLE cli_secrets (
    user_id     INTEGER     PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT        NOT NULL,
    sealed      BLOB        NOT NULL,
    created_at  TEXT        NOT NULL
);

-- Until when the provider's word on an OIDC account holds (its ID token's
-- expiry), and the sealed refresh token to ask again after that: a CLI
-- secret only works while the provider still vouches for its owner.
CREATE TABLE oidc_tokens (
    user_id              INTEGER     PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_refresh_token BLOB,
    valid_until          TEXT        NOT NULL,
    updated_at           TEXT        NOT NULL
);
