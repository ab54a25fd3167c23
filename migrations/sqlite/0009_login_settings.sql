-- Settings an administrator changes at run time (the login mode and its
-- LDAP or OIDC configuration), one JSON document per name, and where each
-- account comes from.

CREATE TABLE system_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT
);

-- 'database' accounts sign in with their stored password; 'ldap' and 'oidc'
-- accounts were created by their first sign-in there.
ALTER TABLE users ADD COLUMN auth_source TEXT NOT NULL DEFAULT 'database';
-- The LDAP entry's DN, or the OIDC issuer and subject.
ALTER TABLE users ADD COLUMN external_id TEXT;
