-- Projects own repositories (the first component of a repository's name) and
-- say who may do what in them: members are users or groups (LDAP or OIDC
-- groups), each with one of Harbor's roles. Registry tokens are signed with a
-- key every node shares.

CREATE TABLE projects (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT        COLLATE "C" NOT NULL,
    public     BOOLEAN     NOT NULL DEFAULT FALSE,
    owner_id   BIGINT      REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT projects_name_key UNIQUE (name)
);

CREATE TABLE user_groups (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Where the group comes from: 'ldap' or 'oidc'.
    kind        TEXT        NOT NULL CHECK (kind IN ('ldap', 'oidc')),
    name        TEXT        NOT NULL,
    -- The LDAP group's DN; NULL for OIDC groups (the claim value is the name).
    external_id TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT user_groups_kind_name_key UNIQUE (kind, name)
);

CREATE TABLE user_group_memberships (
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_group_memberships_group_idx ON user_group_memberships (group_id);

CREATE TABLE project_members (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    BIGINT      REFERENCES users (id) ON DELETE CASCADE,
    group_id   BIGINT      REFERENCES user_groups (id) ON DELETE CASCADE,
    role       TEXT        NOT NULL
        CHECK (role IN ('project_admin', 'maintainer', 'developer', 'guest', 'limited_guest')),
    created_at TIMESTAMPTZ NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    CONSTRAINT project_members_user_key UNIQUE (project_id, user_id),
    CONSTRAINT project_members_group_key UNIQUE (project_id, group_id)
);
CREATE INDEX project_members_user_idx ON project_members (user_id);
CREATE INDEX project_members_group_idx ON project_members (group_id);

-- As in Harbor, a public `library` project exists from the first start.
INSERT INTO projects (name, public, created_at, updated_at) VALUES ('library', TRUE, now(), now());

-- Repositories pushed before projects existed get a private project each.
INSERT INTO projects (name, public, created_at, updated_at)
    SELECT DISTINCT split_part(name, '/', 1), FALSE, now(), now() FROM repositories
    ON CONFLICT (name) DO NOTHING;
ALTER TABLE repositories ADD COLUMN project_id BIGINT REFERENCES projects (id);
UPDATE repositories SET project_id = (SELECT p.id FROM projects p WHERE p.name = split_part(repositories.name, '/', 1));
ALTER TABLE repositories ALTER COLUMN project_id SET NOT NULL;
CREATE INDEX repositories_project_idx ON repositories (project_id, name);

CREATE TABLE signing_keys (
    -- What the key signs ('registry-token'); one row each, shared by all nodes.
    purpose     TEXT        PRIMARY KEY,
    key_id      TEXT        NOT NULL,
    algorithm   TEXT        NOT NULL,
    -- PKCS#8 DER of the private key.
    private_key BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
