//! Who may do what on `/v2`, over real HTTP on SQLite and PostgreSQL:
//! Harbor's roles per project, public and private projects, anonymous
//! callers, the docker token service (GET and OAuth2 POST) and the checks
//! every presented token goes through.

mod common;

use app::core::{
    projects::{MemberRef, NewProject},
    rbac::Role,
    registry::digest::Digest,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{Backend, TestServer};
use reqwest::{Client, Response, StatusCode, header};
use serde_json::{Value, json};

const PASSWORD: &str = "Member-Passw0rd";

async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["code"].as_str().unwrap_or_default().to_owned()
}

/// Pushes a small image tagged `tag` as the administrator.
async fn seed_image(server: &TestServer, repo: &str, tag: &str) -> Digest {
    let admin = common::admin_client();
    let config = format!("{{\"seed\":\"{repo}:{tag}\"}}");
    assert_eq!(common::push_blob(&admin, server, repo, config.as_bytes()).await, StatusCode::CREATED);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": Digest::sha256_of(config.as_bytes()).to_string(), "size": config.len()},
        "layers": [],
    }))
    .unwrap();
    let response = admin
        .put(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header(header::CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    Digest::sha256_of(&manifest)
}

/// The claims of a token, read without checking it (the server checks).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn token(client: &Client, server: &TestServer, query: &str) -> (StatusCode, Value) {
    let response = client.get(server.url(&format!("/service/token?{query}"))).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn host_of(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Every role's users against one private project: pull, push and delete
/// allowed or refused as Harbor's matrix says; outsiders and anonymous
/// callers refused; a public project readable by all and writable by none.
async fn roles_follow_the_matrix_on_v2(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["private", "open"]).await;
    server.state.projects.set_public(&server.admin_actor().await, "open", true).await.unwrap();
    let manifest_digest = seed_image(&server, "private/app", "v1").await;
    seed_image(&server, "open/app", "v1").await;

    let mut users = Vec::new();
    for role in Role::ALL {
        let name = format!("user-{}", role.name());
        let user = server.create_user(&name, PASSWORD).await;
        server
            .state
            .projects
            .set_member(&server.admin_actor().await, "private", MemberRef::User(user.id), role)
            .await
            .unwrap();
        users.push((Some(role), common::client_as(&name, PASSWORD)));
    }
    server.create_user("outsider", PASSWORD).await;
    users.push((None, common::client_as("outsider", PASSWORD)));

    for (role, client) in &users {
        let label = role.map_or("outsider", Role::name);
        let pull = client.get(server.url("/v2/private/app/manifests/v1")).send().await.unwrap();
        let may_pull = role.is_some();
        assert_eq!(pull.status().is_success(), may_pull, "{label} pull: {}", pull.status());
        if !may_pull {
            assert_eq!(pull.status(), StatusCode::FORBIDDEN);
            assert_eq!(error_code(pull).await, "DENIED");
        }

        let may_push = role.is_some_and(|r| r >= Role::Developer);
        let pushed = common::push_blob(client, &server, "private/app", format!("by {label}").as_bytes()).await;
        assert_eq!(pushed == StatusCode::CREATED, may_push, "{label} push: {pushed}");
        if !may_push {
            assert_eq!(pushed, StatusCode::FORBIDDEN, "{label}");
        }
        let upload = client.post(server.url("/v2/private/app/blobs/uploads/")).send().await.unwrap();
        assert_eq!(upload.status() == StatusCode::ACCEPTED, may_push, "{label} starts an upload");

        // Deleting needs maintainer; try on a tag that does not exist so the
        // allowed roles see 404 and the others 403.
        let may_delete = role.is_some_and(|r| r >= Role::Maintainer);
        let delete = client.delete(server.url("/v2/private/app/manifests/nothing-here")).send().await.unwrap();
        let expected = if may_delete { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
        assert_eq!(delete.status(), expected, "{label} delete");

        // Everyone signed in pulls from the public project and pushes nowhere there.
        let public = client.get(server.url("/v2/open/app/manifests/v1")).send().await.unwrap();
        assert_eq!(public.status(), StatusCode::OK, "{label} pulls a public project");
        let pushed = common::push_blob(client, &server, "open/app", b"x").await;
        assert_eq!(pushed, StatusCode::FORBIDDEN, "{label} pushes to a public project");
    }

    // A maintainer really deletes.
    let maintainer = &users.iter().find(|(r, _)| *r == Some(Role::Maintainer)).unwrap().1;
    let deleted =
        maintainer.delete(server.url(&format!("/v2/private/app/manifests/{manifest_digest}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);

    // Anonymous: the public project reads, nothing else does, and the
    // refusals carry the challenge naming the scope to ask for.
    let anonymous = Client::new();
    let public = anonymous.get(server.url("/v2/open/app/manifests/v1")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    let host = host_of(&server);
    for (method, path, scope) in [
        (reqwest::Method::GET, "/v2/private/app/tags/list", "repository:private/app:pull"),
        (reqwest::Method::POST, "/v2/open/app/blobs/uploads/", "repository:open/app:pull,push"),
        (reqwest::Method::GET, "/v2/missing/app/tags/list", "repository:missing/app:pull"),
        (reqwest::Method::GET, "/v2/_catalog", "registry:catalog:*"),
    ] {
        let response = anonymous.request(method.clone(), server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            format!("Bearer realm=\"{}/service/token\",service=\"{host}\",scope=\"{scope}\"", server.base),
            "{method} {path}"
        );
        assert_eq!(error_code(response).await, "UNAUTHORIZED");
    }
    // A mount's challenge asks for the source too, so the token can mount.
    let mount = anonymous
        .post(server.url("/v2/open/copy/blobs/uploads/?mount=sha256:0000000000000000000000000000000000000000000000000000000000000000&from=private/app"))
        .send()
        .await
        .unwrap();
    assert_eq!(mount.status(), StatusCode::UNAUTHORIZED);
    let challenge = mount.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(challenge.ends_with("scope=\"repository:open/copy:pull,push repository:private/app:pull\""), "{challenge}");
    let base = anonymous.get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(base.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        base.headers()[header::WWW_AUTHENTICATE],
        format!("Bearer realm=\"{}/service/token\",service=\"{host}\"", server.base)
    );
    let signed_in = users[0].1.get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let wrong = common::client_as("outsider", "not-the-password").get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// Projects must exist before anything is pushed into them; names without
/// a project are refused; the catalog shows each caller what they may see.
async fn projects_bound_pushes_and_listings(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let library = server.state.projects.find("library").await.unwrap().expect("library exists from the start");
    assert!(library.public);

    let response = admin.post(server.url("/v2/nowhere/app/blobs/uploads/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NAME_UNKNOWN");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("project nowhere does not exist"), "{body}");
    let solo = common::push_blob(&admin, &server, "solo", b"x").await;
    assert_eq!(solo, StatusCode::NOT_FOUND, "a name without a project");
    assert!(server.state.projects.find("nowhere").await.unwrap().is_none(), "never created on the fly");

    server.create_projects(&["alpha", "beta", "gamma"]).await;
    server.state.projects.set_public(&server.admin_actor().await, "gamma", true).await.unwrap();
    for repo in ["alpha/one", "beta/two", "gamma/three", "library/four"] {
        assert_eq!(common::push_blob(&admin, &server, repo, b"content").await, StatusCode::CREATED);
    }
    let member = server.create_user("member", PASSWORD).await;
    server
        .state
        .projects
        .set_member(&server.admin_actor().await, "alpha", MemberRef::User(member.id), Role::Guest)
        .await
        .unwrap();

    let catalog = |client: Client| {
        let url = server.url("/v2/_catalog");
        async move { client.get(url).send().await.unwrap().json::<Value>().await.unwrap()["repositories"].clone() }
    };
    assert_eq!(catalog(admin.clone()).await, json!(["alpha/one", "beta/two", "gamma/three", "library/four"]));
    assert_eq!(
        catalog(common::client_as("member", PASSWORD)).await,
        json!(["alpha/one", "gamma/three", "library/four"]),
        "public projects and the member's own"
    );

    // The same rules hold for the project listing the portal and REST API use.
    use app::core::{db::Window, identity::Principal, projects::ListOptions};
    let options = ListOptions { window: Window::new(0, 10), ..ListOptions::default() };
    let listed = server.state.projects.list(&Principal::User(member.clone()).into(), &options).await.unwrap();
    let (visible, total) = (listed.items, listed.total);
    let names: Vec<&str> = visible.iter().map(|p| p.name.as_str()).collect();
    assert_eq!((names, total), (vec!["alpha", "gamma", "library"], 3));
    let public = server.state.projects.list(&Principal::Anonymous.into(), &options).await.unwrap().items;
    assert_eq!(public.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["gamma", "library"]);
    let alpha = visible.iter().find(|p| p.name.as_str() == "alpha").unwrap();
    assert_eq!(alpha.repository_count, 1);

    // Deleting: refused while repositories remain, fine once empty; names are unique and valid.
    let error = server.state.projects.delete(&server.admin_actor().await, "alpha").await.unwrap_err();
    assert!(matches!(error, app::core::Error::Conflict(_)), "{error:?}");
    // Any signed-in user creates projects and administers the ones they create.
    let member_actor: app::core::identity::Actor = Principal::User(member.clone()).into();
    server.state.projects.create(&member_actor, NewProject::private("empty")).await.unwrap();
    let members = server
        .state
        .projects
        .members(&member_actor, "empty", None, app::core::db::Window::new(0, 100))
        .await
        .unwrap()
        .items;
    assert_eq!(members.len(), 1, "the creator becomes project admin");
    assert_eq!((members[0].name.as_str(), members[0].role), ("member", Role::ProjectAdmin));
    server.state.projects.set_public(&member_actor, "empty", true).await.unwrap();
    server.state.projects.delete(&member_actor, "empty").await.unwrap();
    assert!(server.state.projects.find("empty").await.unwrap().is_none());
    // In alpha the same user is a guest: reads members, changes nothing.
    let alpha_members = server
        .state
        .projects
        .members(&member_actor, "alpha", None, app::core::db::Window::new(0, 100))
        .await
        .unwrap()
        .items;
    let names: Vec<&str> = alpha_members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["admin", "member"], "its creator and the guest");
    for refused in [
        server.state.projects.set_public(&member_actor, "alpha", true).await.map(|_| ()),
        server.state.projects.delete(&member_actor, "alpha").await,
        server
            .state
            .projects
            .set_member(&member_actor, "alpha", MemberRef::User(member.id), Role::ProjectAdmin)
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(refused, Err(app::core::Error::Forbidden(_))), "{refused:?}");
    }
    // Administrators may keep project creation to themselves.
    let admin = server.admin_actor().await;
    let refused = server.state.settings.set_project_creation_admin_only(&member_actor, true).await;
    assert!(matches!(refused, Err(app::core::Error::Forbidden(_))), "{refused:?}");
    server.state.settings.set_project_creation_admin_only(&admin, true).await.unwrap();
    let refused = server.state.projects.create(&member_actor, NewProject::private("again")).await.unwrap_err();
    assert!(matches!(refused, app::core::Error::Forbidden(_)), "{refused:?}");
    server.state.projects.create(&admin, NewProject::private("by-admin")).await.unwrap();
    server.state.settings.set_project_creation_admin_only(&admin, false).await.unwrap();
    server.state.projects.create(&member_actor, NewProject::private("again")).await.unwrap();
    let anonymous: app::core::identity::Actor = Principal::Anonymous.into();
    let refused = server.state.projects.create(&anonymous, NewProject::private("mine")).await.unwrap_err();
    assert!(matches!(refused, app::core::Error::Forbidden(_)), "{refused:?}");
    let taken = server
        .state
        .projects
        .create(&admin, NewProject { public: true, ..NewProject::private("beta") })
        .await
        .unwrap_err();
    assert!(matches!(taken, app::core::Error::Conflict(_)), "{taken:?}");
    let invalid = server
        .state
        .projects
        .create(&admin, NewProject { public: true, ..NewProject::private("Bad_Name") })
        .await
        .unwrap_err();
    assert!(matches!(invalid, app::core::Error::Invalid { .. }), "{invalid:?}");
    server.state.events.flush().await;
    let query = app::core::events::AuditQuery { project: Some("empty"), ..Default::default() };
    let events = server.state.audit.list(&admin, &query, app::core::db::Window::new(0, 10)).await.unwrap().items;
    let seen: Vec<(&str, &str, Option<&str>)> =
        events.iter().map(|e| (e.operation.as_str(), e.resource_type.as_str(), e.detail.as_deref())).collect();
    assert_eq!(
        seen,
        [
            ("delete", "project", None),
            ("update", "project", Some("made public")),
            ("create", "project", Some("private"))
        ]
    );

    // A mount from a repository the caller cannot read falls back to an upload.
    let digest = Digest::sha256_of(b"content");
    let member_client = common::client_as("member", PASSWORD);
    server
        .state
        .projects
        .set_member(&server.admin_actor().await, "alpha", MemberRef::User(member.id), Role::Developer)
        .await
        .unwrap();
    let mount = member_client
        .post(server.url(&format!("/v2/alpha/copy/blobs/uploads/?mount={digest}&from=beta/two")))
        .send()
        .await
        .unwrap();
    assert_eq!(mount.status(), StatusCode::ACCEPTED, "no mount from an unreadable source");
    let readable = member_client
        .post(server.url(&format!("/v2/alpha/copy/blobs/uploads/?mount={digest}&from=gamma/three")))
        .send()
        .await
        .unwrap();
    assert_eq!(readable.status(), StatusCode::CREATED, "a public source mounts");
    server.stop().await;
}

/// The token service grants the intersection of what is asked and what is
/// allowed, in both protocol forms, and refuses bad credentials.
async fn the_token_service_grants_only_what_is_allowed(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "open"]).await;
    server.state.projects.set_public(&server.admin_actor().await, "open", true).await.unwrap();
    let guest = server.create_user("guest", PASSWORD).await;
    server
        .state
        .projects
        .set_member(&server.admin_actor().await, "team", MemberRef::User(guest.id), Role::Guest)
        .await
        .unwrap();
    let host = host_of(&server);
    let guest_client = common::client_as("guest", PASSWORD);

    let query = format!(
        "service={host}&scope=repository:team/app:pull,push,delete&scope=repository:open/x:pull,push\
         &scope=repository:other/y:pull&scope=registry:catalog:*"
    );
    let (status, body) = token(&guest_client, &server, &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token"], body["access_token"]);
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    let claims = claims_of(body["token"].as_str().unwrap());
    assert_eq!(claims["sub"], "guest");
    assert_eq!(claims["aud"], host.as_str());
    assert_eq!(claims["iss"], server.base.as_str());
    for claim in ["exp", "nbf", "iat", "jti"] {
        assert!(!claims[claim].is_null(), "{claim} is set");
    }
    assert_eq!(
        claims["access"],
        json!([
            {"type": "repository", "name": "team/app", "actions": ["pull"]},
            {"type": "repository", "name": "open/x", "actions": ["pull"]},
            {"type": "repository", "name": "other/y", "actions": []},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ])
    );

    // The token works for what it grants and for nothing else.
    let bearer = body["token"].as_str().unwrap().to_owned();
    seed_image(&server, "team/app", "v1").await;
    let pulled = Client::new().get(server.url("/v2/team/app/manifests/v1")).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(pulled.status(), StatusCode::OK);
    // A guest may not push at all: a new token would not help, so 403.
    let pushed =
        Client::new().post(server.url("/v2/team/app/blobs/uploads/")).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(pushed.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(pushed).await, "DENIED");
    // An administrator holding a pull-only token is told to get a wider one.
    let (_, body) = token(&common::admin_client(), &server, "scope=repository:team/app:pull").await;
    let pull_only = body["token"].as_str().unwrap().to_owned();
    let pushed =
        Client::new().post(server.url("/v2/team/app/blobs/uploads/")).bearer_auth(&pull_only).send().await.unwrap();
    assert_eq!(pushed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        pushed.headers()[header::WWW_AUTHENTICATE],
        format!(
            "Bearer realm=\"{}/service/token\",service=\"{host}\",scope=\"repository:team/app:pull,push\",error=\"insufficient_scope\"",
            server.base
        )
    );
    let elsewhere =
        Client::new().get(server.url("/v2/team/other/tags/list")).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED, "a scope for another repository");
    // A mount with a token lacking the source's scope: the administrator may
    // pull there, so a wider token is asked for; with it, a source without
    // the blob means a plain upload session.
    let mount = format!("/v2/team/copy/blobs/uploads/?mount={}&from=open/x", Digest::sha256_of(b"none"));
    let (_, body) = token(&common::admin_client(), &server, "scope=repository:team/copy:pull,push").await;
    let narrow = body["token"].as_str().unwrap().to_owned();
    let asked = Client::new().post(server.url(&mount)).bearer_auth(&narrow).send().await.unwrap();
    assert_eq!(asked.status(), StatusCode::UNAUTHORIZED);
    let challenge = asked.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(challenge.contains("scope=\"repository:team/copy:pull,push repository:open/x:pull\""), "{challenge}");
    let query = "scope=repository:team/copy:pull,push&scope=repository:open/x:pull";
    let (_, body) = token(&common::admin_client(), &server, query).await;
    let wide = body["token"].as_str().unwrap().to_owned();
    let fell_back = Client::new().post(server.url(&mount)).bearer_auth(&wide).send().await.unwrap();
    assert_eq!(fell_back.status(), StatusCode::ACCEPTED, "allowed, and the source lacks the blob: an upload");
    let missing =
        Client::new().post(server.url("/v2/nowhere/app/blobs/uploads/")).bearer_auth(&pull_only).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND, "no token helps where no project is");
    assert_eq!(error_code(missing).await, "NAME_UNKNOWN");

    // Anonymous tokens: public pulls only.
    let (status, body) =
        token(&Client::new(), &server, "scope=repository:open/x:pull,push&scope=repository:team/app:pull").await;
    assert_eq!(status, StatusCode::OK);
    let claims = claims_of(body["token"].as_str().unwrap());
    assert_eq!(claims["sub"], "");
    assert_eq!(claims["access"][0]["actions"], json!(["pull"]));
    assert_eq!(claims["access"][1]["actions"], json!([]));

    // An administrator gets everything asked for; `*` means all registry actions.
    let (_, body) = token(&common::admin_client(), &server, "scope=repository:team/app:*").await;
    assert_eq!(claims_of(body["token"].as_str().unwrap())["access"][0]["actions"], json!(["pull", "push", "delete"]));

    // Refusals.
    let (status, body) = token(&common::client_as("guest", "wrong"), &server, "scope=repository:team/app:pull").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    let (status, _) = token(&guest_client, &server, "service=elsewhere.example&scope=repository:team/app:pull").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "tokens only for this registry");
    // `docker login`: credentials and no scope.
    let (status, body) = token(&guest_client, &server, &format!("service={host}&account=guest")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claims_of(body["token"].as_str().unwrap())["access"], json!([]));

    // The OAuth2 form.
    let form = [
        ("grant_type", "password"),
        ("username", "guest"),
        ("password", PASSWORD),
        ("service", host.as_str()),
        ("client_id", "berth-tests"),
        ("scope", "repository:team/app:pull,push repository:open/x:pull"),
    ];
    let response = Client::new().post(server.url("/service/token")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "repository:team/app:pull repository:open/x:pull");
    assert_eq!(body["token_type"], "Bearer");
    let tags = Client::new()
        .get(server.url("/v2/team/app/tags/list"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), StatusCode::OK);
    let wrong = [("grant_type", "password"), ("username", "guest"), ("password", "nope")];
    let response = Client::new().post(server.url("/service/token")).form(&wrong).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let response = Client::new().post(server.url("/service/token")).form(&refresh).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
    server.stop().await;
}

/// Forged, foreign, expired and unsigned tokens are all refused.
async fn forged_tokens_are_refused(backend: Backend) {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use ring::{rand::SystemRandom, signature};

    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    seed_image(&server, "team/app", "v1").await;
    let host = host_of(&server);
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, exp: i64, name: &str| {
        json!({
            "iss": server.base, "sub": "admin", "aud": aud, "exp": exp, "nbf": now - 10, "iat": now - 10,
            "jti": "test", "access": [{"type": "repository", "name": name, "actions": ["pull"]}],
        })
    };
    let altered = |field: &str, value: Value| {
        let mut altered = claims(&host, now + 300, "team/app");
        altered[field] = value;
        altered
    };
    // The real key, read from where every node reads it.
    let stored: Vec<u8> = match &server.state.db {
        app::core::db::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT private_key FROM signing_keys").fetch_one(pool).await.unwrap()
        }
        app::core::db::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT private_key FROM signing_keys").fetch_one(pool).await.unwrap()
        }
    };
    let real = EncodingKey::from_ec_der(&stored);
    let foreign_pkcs8 =
        signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let foreign = EncodingKey::from_ec_der(foreign_pkcs8.as_ref());
    let sign =
        |claims: &Value, key: &EncodingKey| jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, key).unwrap();
    let pull = |token: String| {
        let url = server.url("/v2/team/app/manifests/v1");
        async move { Client::new().get(url).bearer_auth(token).send().await.unwrap().status() }
    };

    let good = sign(&claims(&host, now + 300, "team/app"), &real);
    assert_eq!(pull(good.clone()).await, StatusCode::OK, "the control: a well-formed token of our own");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(&host, now + 300, "team/app").to_string())
    );
    let mut tampered = good.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    for (label, token) in [
        ("signed by another key", sign(&claims(&host, now + 300, "team/app"), &foreign)),
        ("alg none", unsigned),
        ("another audience", sign(&claims("other.example", now + 300, "team/app"), &real)),
        ("expired", sign(&claims(&host, now - 120, "team/app"), &real)),
        ("another repository", sign(&claims(&host, now + 300, "team/else"), &real)),
        ("another issuer", sign(&altered("iss", json!("https://elsewhere.example")), &real)),
        ("not valid yet", sign(&altered("nbf", json!(now + 600)), &real)),
        ("no subject", {
            let mut unnamed = claims(&host, now + 300, "team/app");
            unnamed.as_object_mut().unwrap().remove("sub");
            sign(&unnamed, &real)
        }),
        ("tampered signature", tampered),
        ("not a JWT", "garbage".to_owned()),
    ] {
        assert_eq!(pull(token).await, StatusCode::UNAUTHORIZED, "{label}");
    }
    server.stop().await;
}

/// Five wrong passwords for one account from one address lock that pair
/// out for a while: the right password is refused too, on every way in.
async fn repeated_failed_sign_ins_are_throttled(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("victim", PASSWORD).await;
    server.create_user("bystander", PASSWORD).await;
    let wrong = common::client_as("victim", "guessing");
    for attempt in 0..5 {
        let response = wrong.get(server.url("/service/token")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let right = common::client_as("victim", PASSWORD);
    let token = right.get(server.url("/service/token")).send().await.unwrap();
    assert_eq!(token.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS");
    let v2 = right.get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(v2.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(v2).await, "TOOMANYREQUESTS");
    let portal = common::browser_like_client()
        .post(server.url("/portal/fn/login"))
        .header(header::ACCEPT, "text/html")
        .form(&[("username", "victim"), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(portal.status(), StatusCode::TOO_MANY_REQUESTS, "the portal shares the lockout");
    let other = common::client_as("bystander", PASSWORD).get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK, "other accounts are unaffected");
    server.stop().await;
}

/// Sign-in names no account can have are refused before any lookup, and
/// whatever a client sends is bounded in the audit log; robot secrets are
/// throttled like passwords; spaces around a name give no fresh tries.
async fn sign_in_input_is_bounded_and_robots_are_throttled(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    for n in 0..20 {
        let huge = format!("{n}{}", "u".repeat(60 * 1024));
        let response = common::client_as(&huge, "whatever").get(server.url("/v2/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let logs = common::audit_log(&server, "operation=login").await;
    let refused: Vec<&Value> = logs.iter().filter(|l| l["username"].as_str().is_some_and(|u| u.len() > 200)).collect();
    assert_eq!(refused.len(), 20, "each refusal is audited");
    for entry in refused {
        assert!(entry["username"].as_str().unwrap().len() <= 255, "bounded: {}", entry["username"]);
        assert!(entry["resource"].as_str().unwrap().len() <= 1024);
    }

    // A robot: five wrong secrets lock the robot out from that address.
    server.create_projects(&["team"]).await;
    let robot = json!({
        "name": "ci", "duration": -1, "level": "project",
        "permissions": [{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}],
    });
    let created: Value =
        admin.post(server.url("/api/v2.0/robots")).json(&robot).send().await.unwrap().json().await.unwrap();
    let (name, secret) = (created["name"].as_str().unwrap(), created["secret"].as_str().unwrap());
    assert_eq!(common::client_as(name, secret).get(server.url("/v2/")).send().await.unwrap().status(), StatusCode::OK);
    for _ in 0..5 {
        let wrong = common::client_as(name, "Wr0ng-secret-guess").get(server.url("/v2/")).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let right = common::client_as(name, secret).get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "robot sign-ins are throttled");

    // Padding a username with spaces counts against the same lockout.
    server.create_user("victim", PASSWORD).await;
    for variant in ["victim", " victim", "victim ", "VICTIM", " Victim "] {
        let response = common::client_as(variant, "guessing").get(server.url("/v2/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{variant:?}");
    }
    let locked = common::client_as("victim", PASSWORD).get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}

/// Behind a trusted proxy the client it names is who gets throttled and
/// audited, so five wrong passwords from one client lock out that client,
/// not everyone behind the proxy; from anyone else the header is ignored.
async fn trusted_proxies_name_the_client(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = common::TestDatabase::create(backend, dir.path()).await;
    let proxied = [("BERTH_TRUSTED_PROXIES", "127.0.0.1/32".to_owned())];
    let server = TestServer::start_with(dir.path().to_owned(), &database.url, &proxied).await;
    server.create_user("victim", PASSWORD).await;
    let from = |client: &'static str, password: &str| {
        common::client_as("victim", password).get(server.url("/v2/")).header("x-forwarded-for", client).send()
    };
    for _ in 0..5 {
        assert_eq!(from("198.51.100.1", "guessing").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(from("198.51.100.1", PASSWORD).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(from("198.51.100.2", PASSWORD).await.unwrap().status(), StatusCode::OK, "other clients still sign in");
    let logs = common::audit_log(&server, "username=victim").await;
    assert!(!logs.is_empty());
    assert!(logs.iter().all(|l| l["client_addr"] == "198.51.100.1"), "the audit log names the client: {logs:?}");
    server.stop().await;

    // Without trusted proxies the header is the client's own claim and changes nothing.
    let plain = TestServer::start(backend).await;
    plain.create_user("victim", PASSWORD).await;
    for n in 0..5 {
        let forged = common::client_as("victim", "guessing")
            .get(plain.url("/v2/"))
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = common::client_as("victim", PASSWORD).get(plain.url("/v2/")).header("x-forwarded-for", "203.0.113.1");
    assert_eq!(locked.send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "a forged header buys no tries");
    plain.stop().await;
    drop(database);
}

on_both_databases!(
    trusted_proxies_name_the_client,
    sign_in_input_is_bounded_and_robots_are_throttled,
    repeated_failed_sign_ins_are_throttled,
    roles_follow_the_matrix_on_v2,
    projects_bound_pushes_and_listings,
    the_token_service_grants_only_what_is_allowed,
    forged_tokens_are_refused,
);
