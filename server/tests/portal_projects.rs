//! The portal's project functions over real HTTP, on SQLite and PostgreSQL,
//! called as the browser calls them (form-encoded, session cookie): the
//! list with search and keyset pages, creating (with a quota the registry
//! then enforces), the overview and what each role may do, configuring,
//! deleting, and a project's repositories.

mod common;

use common::{Backend, TestServer};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const MIB: i64 = 1 << 20;

/// Calls a server function with form fields; returns status and JSON body.
async fn call(client: &Client, server: &TestServer, function: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client.post(server.url(&format!("/portal/fn/{function}"))).form(fields).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn names(listing: &Value) -> Vec<String> {
    listing["items"].as_array().unwrap().iter().map(|item| item["name"].as_str().unwrap().to_owned()).collect()
}

async fn projects_in_the_portal(backend: Backend) {
    let server = TestServer::start(backend).await;
    for user in ["rita", "gus"] {
        server.create_user(user, &format!("{user}-password-1")).await;
    }
    let rita = common::portal_client(&server, "rita", "rita-password-1").await;
    let gus = common::portal_client(&server, "gus", "gus-password-1").await;
    let admin = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;

    // Without a session nothing is listed.
    let (status, _) = call(&common::browser_like_client(), &server, "projects", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Creating: the name is checked with the registry's grammar, the quota parsed.
    for (fields, status, mentions) in [
        (vec![("name", "Bad Name")], StatusCode::BAD_REQUEST, "project_name"),
        (vec![("name", "team"), ("quota", "lots"), ("quota_unit", "GiB")], StatusCode::BAD_REQUEST, "storage_quota"),
        (vec![("name", "team"), ("quota", "0"), ("quota_unit", "MiB")], StatusCode::BAD_REQUEST, "storage_quota"),
    ] {
        let (got, body) = call(&rita, &server, "create_project", &fields).await;
        assert_eq!(got, status, "{fields:?}: {body}");
        assert!(body.to_string().contains(mentions), "{fields:?}: {body}");
    }
    let (status, created) =
        call(&rita, &server, "create_project", &[("name", "team"), ("quota", "1"), ("quota_unit", "MiB")]).await;
    assert_eq!((status, created), (StatusCode::OK, Value::from("team")));
    let (status, _) = call(&gus, &server, "create_project", &[("name", "team")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(&gus, &server, "create_project", &[("name", "open"), ("public", "on")]).await;
    assert_eq!(status, StatusCode::OK);

    // Each sees the public projects and their own; storage and quota come with them.
    let (_, listed) = call(&rita, &server, "projects", &[]).await;
    assert_eq!(names(&listed["projects"]), ["library", "open", "team"]);
    assert_eq!(listed["may_create"], true);
    let team = &listed["projects"]["items"][2];
    assert_eq!((team["public"].as_bool(), team["storage_quota"].as_i64()), (Some(false), Some(MIB)));
    assert_eq!(team["storage_used"], 0);
    let (_, listed) = call(&gus, &server, "projects", &[]).await;
    assert_eq!(names(&listed["projects"]), ["library", "open"]);

    // Pushing fills the quota; a blob that would pass it is refused with
    // DENIED and is not linked; a blob the project already holds is free.
    let pusher = common::client_as("rita", "rita-password-1");
    let (_, size) = common::push_image(&pusher, &server, "team/app", "v1", &vec![7u8; 300 * 1024]).await;
    let (_, listed) = call(&rita, &server, "projects", &[("search", "tea")]).await;
    assert_eq!(listed["projects"]["items"][0]["storage_used"], size);
    let big = vec![9u8; 800 * 1024];
    let refused = pusher
        .post(server.url(&format!(
            "/v2/team/app/blobs/uploads/?digest={}",
            app::core::registry::digest::Digest::sha256_of(&big)
        )))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("quota"), "{body}");
    let digest = app::core::registry::digest::Digest::sha256_of(&big);
    let missing = pusher.head(server.url(&format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    common::push_image(&pusher, &server, "team/copy", "v1", &vec![7u8; 300 * 1024]).await;
    let (_, listed) = call(&rita, &server, "projects", &[("search", "team")]).await;
    let used = listed["projects"]["items"][0]["storage_used"].as_i64().unwrap();
    assert!(used < size * 2, "shared layers count once: {used} for two repositories of {size}");

    // The overview says what the caller may do there.
    let (status, overview) = call(&rita, &server, "project", &[("name", "team")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((overview["repository_count"].as_i64(), overview["member_count"].as_i64()), (Some(2), Some(1)));
    let permissions = &overview["permissions"];
    for (key, expected) in [("push", true), ("edit", true), ("delete", true), ("change_quota", false)] {
        assert_eq!(permissions[key], expected, "rita may {key}: {permissions}");
    }
    assert!(overview["registry_host"].as_str().unwrap().starts_with("127.0.0.1:"));
    let (status, _) = call(&gus, &server, "project", &[("name", "team")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "gus is no member of the private project");
    let (_, overview) = call(&gus, &server, "project", &[("name", "library")]).await;
    let permissions = &overview["permissions"];
    assert_eq!((permissions["push"].as_bool(), permissions["edit"].as_bool()), (Some(false), Some(false)));
    assert!(overview["member_count"].is_null(), "a non-member does not see the members");

    // Configuring: the project admin flips public; the quota is for system administrators.
    let (status, _) = call(&rita, &server, "configure_project", &[("name", "team"), ("public", "on")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &rita,
        &server,
        "configure_project",
        &[("name", "team"), ("public", "on"), ("set_quota", "true"), ("quota", "5"), ("quota_unit", "GiB")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&gus, &server, "configure_project", &[("name", "team")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged call from a non-admin of the project is refused");
    let (status, _) = call(
        &admin,
        &server,
        "configure_project",
        &[("name", "team"), ("public", "on"), ("set_quota", "true"), ("quota", "5"), ("quota_unit", "GiB")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, overview) = call(&gus, &server, "project", &[("name", "team")]).await;
    assert_eq!((overview["public"].as_bool(), overview["storage_quota"].as_i64()), (Some(true), Some(5 << 30)));
    let (status, _) = call(
        &admin,
        &server,
        "configure_project",
        &[("name", "team"), ("public", "on"), ("set_quota", "true"), ("quota", "")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, overview) = call(&rita, &server, "project", &[("name", "team")]).await;
    assert!(overview["storage_quota"].is_null(), "an empty quota means no limit");

    // A project's repositories, searched.
    let (_, repositories) = call(&gus, &server, "project_repositories", &[("project", "team")]).await;
    assert_eq!(names(&repositories), ["team/app", "team/copy"]);
    assert_eq!(repositories["items"][0]["artifact_count"], 1);
    let (_, repositories) =
        call(&gus, &server, "project_repositories", &[("project", "team"), ("search", "cop")]).await;
    assert_eq!(names(&repositories), ["team/copy"]);

    // Deleting: only an empty project, and only by its admin.
    let (status, _) = call(&rita, &server, "delete_project", &[("name", "team")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(&rita, &server, "delete_project", &[("name", "open")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&gus, &server, "delete_project", &[("name", "open")]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = call(&gus, &server, "projects", &[]).await;
    assert_eq!(names(&listed["projects"]), ["library", "team"]);
    server.stop().await;
}

/// Keyset pages: 20 rows, forward and back, with the total and the search kept.
async fn project_pages(backend: Backend) {
    let server = TestServer::start(backend).await;
    let names_to_create: Vec<String> = (0..45).map(|n| format!("p{n:02}")).collect();
    server.create_projects(&names_to_create.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let admin = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;

    let (_, first) = call(&admin, &server, "projects", &[]).await;
    let first = &first["projects"];
    assert_eq!(first["total"], 46);
    assert_eq!(names(first).len(), 20);
    assert_eq!(names(first)[0], "library");
    assert!(first["previous"].is_null());
    let next = first["next"].as_str().unwrap().to_owned();
    assert_eq!(next, "p18");
    let (_, second) = call(&admin, &server, "projects", &[("after", &next)]).await;
    let second = &second["projects"];
    assert_eq!(names(second).first().map(String::as_str), Some("p19"));
    let (_, third) = call(&admin, &server, "projects", &[("after", second["next"].as_str().unwrap())]).await;
    let third = &third["projects"];
    assert_eq!(names(third), ["p39", "p40", "p41", "p42", "p43", "p44"]);
    assert!(third["next"].is_null());
    // Back from the third page is the second again.
    let (_, back) = call(&admin, &server, "projects", &[("before", third["previous"].as_str().unwrap())]).await;
    assert_eq!(names(&back["projects"]), names(second));
    let (_, back) =
        call(&admin, &server, "projects", &[("before", back["projects"]["previous"].as_str().unwrap())]).await;
    assert_eq!(names(&back["projects"]), names(first));
    assert!(back["projects"]["previous"].is_null(), "the first page has nothing before it");

    // Search narrows the rows and the total; `_` is a character, not a wildcard.
    let (_, found) = call(&admin, &server, "projects", &[("search", "p1")]).await;
    assert_eq!(found["projects"]["total"], 10);
    let (_, none) = call(&admin, &server, "projects", &[("search", "p_")]).await;
    assert_eq!(none["projects"]["total"], 0);
    server.stop().await;
}

/// The dashboard counts only what the user may see, and lists the latest
/// pushes there, newest first; the search finds only what they may see.
async fn the_dashboard_counts_what_the_user_may_see(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["secret"]).await;
    server.create_user("rita", "rita-password-1").await;
    let admin = common::admin_client();
    let (_, public_size) = common::push_image(&admin, &server, "library/web", "v1", b"public layer").await;
    common::push_image(&admin, &server, "secret/app", "v1", b"secret layer").await;
    common::push_image(&admin, &server, "secret/app", "v2", b"secret layer 2").await;
    server.state.events.flush().await;

    let rita = common::portal_client(&server, "rita", "rita-password-1").await;
    let (status, seen) = call(&rita, &server, "dashboard", &[]).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let counts = (seen["projects"].as_i64(), seen["repositories"].as_i64(), seen["artifacts"].as_i64());
    assert_eq!(counts, (Some(1), Some(1), Some(1)), "rita sees the public library only: {seen}");
    assert_eq!(seen["storage_used"], public_size);
    let pushes = seen["recent_pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), 1);
    assert_eq!((pushes[0]["repository"].as_str(), pushes[0]["reference"].as_str()), (Some("library/web"), Some("v1")));
    assert_eq!(pushes[0]["pushed_by"], "admin");

    let portal = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
    let (_, all) = call(&portal, &server, "dashboard", &[]).await;
    assert_eq!(
        (all["projects"].as_i64(), all["repositories"].as_i64(), all["artifacts"].as_i64()),
        (Some(2), Some(2), Some(3))
    );
    let pushes: Vec<(&str, &str)> = all["recent_pushes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["repository"].as_str().unwrap(), p["reference"].as_str().unwrap()))
        .collect();
    assert_eq!(pushes, [("secret/app", "v2"), ("secret/app", "v1"), ("library/web", "v1")]);
    let (status, _) = call(&common::browser_like_client(), &server, "dashboard", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The top bar's search finds projects and repositories the caller may see.
    let (_, found) = call(&portal, &server, "search", &[("query", "app")]).await;
    assert_eq!(found["repositories"]["items"][0]["name"], "secret/app");
    let (_, found) = call(&rita, &server, "search", &[("query", "b")]).await;
    let projects: Vec<&str> =
        found["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(projects, ["library"], "rita does not find the private project");
    let repositories: Vec<&str> =
        found["repositories"]["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(repositories, ["library/web"]);
    let (status, _) = call(&rita, &server, "search", &[("query", " ")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Repository matches come a page of 20 at a time, by name.
    for n in 0..22 {
        common::push_empty_image(&admin, &server, &format!("library/pkg{n:02}"), "v1").await;
    }
    let (_, first) = call(&rita, &server, "search", &[("query", "pkg")]).await;
    let items = first["repositories"]["items"].as_array().unwrap();
    assert_eq!((first["repositories"]["total"].as_i64(), items.len()), (Some(22), 20));
    assert_eq!(items[0]["name"], "library/pkg00");
    let next = first["repositories"]["next"].as_str().unwrap().to_owned();
    let (_, second) = call(&rita, &server, "search", &[("query", "pkg"), ("after", &next)]).await;
    let names: Vec<&str> =
        second["repositories"]["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["library/pkg20", "library/pkg21"]);
    assert!(second["repositories"]["next"].is_null());
    server.stop().await;
}

/// Members: project admins add users and groups, change roles and remove
/// them; others may at most look; another project's membership ids are
/// not found.
async fn members_in_the_portal(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    for user in ["pat", "dev", "out"] {
        server.create_user(user, &format!("{user}-password-1")).await;
    }
    let admin = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
    let add = |kind: &'static str, name: &'static str, role: &'static str| {
        [("project", "team"), ("kind", kind), ("name", name), ("role", role)]
    };
    assert_eq!(call(&admin, &server, "add_member", &add("user", "pat", "project_admin")).await.0, StatusCode::OK);
    let pat = common::portal_client(&server, "pat", "pat-password-1").await;
    let dev = common::portal_client(&server, "dev", "dev-password-1").await;
    let out = common::portal_client(&server, "out", "out-password-1").await;

    assert_eq!(call(&pat, &server, "add_member", &add("user", "dev", "developer")).await.0, StatusCode::OK);
    for (fields, status) in [
        (add("user", "dev", "guest"), StatusCode::CONFLICT),
        (add("user", "nobody", "guest"), StatusCode::NOT_FOUND),
        (add("robot", "dev", "guest"), StatusCode::BAD_REQUEST),
        (add("user", "out", "emperor"), StatusCode::BAD_REQUEST),
        (add("ldap_group", "cn=devs,dc=example,dc=com", "guest"), StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = call(&pat, &server, "add_member", &fields).await;
        assert_eq!(got, status, "{fields:?}: {body}");
    }
    let (status, _) = call(&dev, &server, "add_member", &add("user", "out", "guest")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a developer's forged call is refused");

    let (status, members) = call(&dev, &server, "project_members", &[("project", "team")]).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<(&str, &str)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("admin", "project_admin"), ("dev", "developer"), ("pat", "project_admin")]);
    let (status, _) = call(&out, &server, "project_members", &[("project", "team")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Changing a role takes effect on what the member may do.
    let dev_id =
        members["items"].as_array().unwrap().iter().find(|m| m["name"] == "dev").unwrap()["id"].as_i64().unwrap();
    let id = dev_id.to_string();
    let (status, _) =
        call(&dev, &server, "change_member_role", &[("project", "team"), ("id", &id), ("role", "maintainer")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        call(&pat, &server, "change_member_role", &[("project", "team"), ("id", &id), ("role", "maintainer")]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, overview) = call(&dev, &server, "project", &[("name", "team")]).await;
    assert_eq!(overview["permissions"]["delete_artifacts"], true);
    // Another project's membership ids are not found through this one.
    let (_, others) = call(&admin, &server, "project_members", &[("project", "other")]).await;
    let other_id = others["items"][0]["id"].as_i64().unwrap().to_string();
    let (status, _) = call(&pat, &server, "remove_member", &[("project", "team"), ("id", &other_id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&pat, &server, "remove_member", &[("project", "team"), ("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&dev, &server, "project_members", &[("project", "team")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "dev is no member any more");

    // Keyset pages of 25 by name, then id: 30 groups and one named like a user.
    seed_group_members(
        &server,
        "team",
        &(0..30).map(|n| format!("g{n:02}")).chain(["pat".to_owned()]).collect::<Vec<_>>(),
    )
    .await;
    let mut seen = Vec::new();
    let mut after = None::<String>;
    loop {
        let mut fields = vec![("project", "team")];
        if let Some(after) = &after {
            fields.push(("after", after.as_str()));
        }
        let (status, page) = call(&pat, &server, "project_members", &fields).await;
        assert_eq!((status, page["total"].as_i64()), (StatusCode::OK, Some(33)), "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|m| (m["name"].clone(), m["is_group"].clone())));
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let names: Vec<&str> = seen.iter().map(|(name, _)| name.as_str().unwrap()).collect();
    let mut expected: Vec<String> = (0..30).map(|n| format!("g{n:02}")).collect();
    expected.extend(["admin".to_owned(), "pat".to_owned(), "pat".to_owned()]);
    expected.sort();
    assert_eq!(names, expected, "every member once, by name");
    let (_, last) =
        call(&pat, &server, "project_members", &[("project", "team"), ("after", after.as_deref().unwrap())]).await;
    let previous = last["previous"].as_str().unwrap().to_owned();
    let (_, back) = call(&pat, &server, "project_members", &[("project", "team"), ("before", &previous)]).await;
    assert_eq!(back["items"].as_array().unwrap().len(), 25);
    assert_eq!(back["items"][0]["name"], "admin");
    let (status, _) = call(&pat, &server, "project_members", &[("project", "team"), ("after", "nonsense")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

/// Adds LDAP groups of these names to the project as guests, straight in
/// the database (adding them through the portal needs a directory).
async fn seed_group_members(server: &TestServer, project: &str, groups: &[String]) {
    use app::core::db::Db;
    macro_rules! seed {
        ($pool:expr) => {{
            #[allow(clippy::disallowed_methods)] // the test is the only writer
            let mut tx = $pool.begin().await.unwrap();
            for group in groups {
                sqlx::query("INSERT INTO user_groups (kind, name, external_id, created_at) VALUES ('ldap', $1, $2, $3)")
                    .bind(group)
                    .bind(format!("cn={group},dc=example,dc=com"))
                    .bind(chrono::Utc::now())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query(
                    "INSERT INTO project_members (project_id, group_id, role, created_at) \
                     SELECT p.id, g.id, 'guest', $3 FROM projects p, user_groups g WHERE p.name = $1 AND g.name = $2",
                )
                .bind(project)
                .bind(group)
                .bind(chrono::Utc::now())
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    match &server.state.db {
        Db::Sqlite(pool) => seed!(pool),
        Db::Postgres(pool) => seed!(pool),
    }
}

/// A project's audit log: for those with `read_logs`, newest first, by
/// keyset pages, filtered by operation.
async fn project_logs_in_the_portal(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    for user in ["gwen", "out"] {
        server.create_user(user, &format!("{user}-password-1")).await;
    }
    let admin = common::admin_client();
    let member = serde_json::json!({"role_id": 3, "member_user": {"username": "gwen"}});
    admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    common::push_image(&admin, &server, "team/app", "v1", b"layer").await;
    for _ in 0..30 {
        let pulled = admin.get(server.url("/v2/team/app/manifests/v1")).send().await.unwrap();
        assert_eq!(pulled.status(), StatusCode::OK);
    }
    server.state.events.flush().await;
    let gwen = common::portal_client(&server, "gwen", "gwen-password-1").await;
    let out = common::portal_client(&server, "out", "out-password-1").await;

    let (status, first) = call(&gwen, &server, "project_logs", &[("project", "team")]).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let total = first["total"].as_i64().unwrap();
    assert!(total >= 32, "a push, 30 pulls and the membership change: {total}");
    assert_eq!(first["items"].as_array().unwrap().len(), 25);
    assert_eq!(first["items"][0]["operation"], "pull");
    let next = first["next"].as_str().unwrap().to_owned();
    let (_, second) = call(&gwen, &server, "project_logs", &[("project", "team"), ("after", &next)]).await;
    assert_eq!(second["items"].as_array().unwrap().len() as i64, total - 25);
    assert!(second["next"].is_null());
    let (_, pushes) = call(&gwen, &server, "project_logs", &[("project", "team"), ("operation", "push")]).await;
    assert_eq!(pushes["total"], 1);
    assert_eq!(
        (pushes["items"][0]["actor"].as_str(), pushes["items"][0]["resource"].as_str()),
        (Some("admin"), Some("team/app:v1"))
    );
    let (status, _) = call(&out, &server, "project_logs", &[("project", "team")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

/// Robot accounts: those who may manage robots create one with chosen
/// permissions and see its secret once, which then works at the registry;
/// refreshing replaces it, disabling stops it, deleting removes the robot.
/// Developers' forged calls and another project's robot ids are refused.
async fn robots_in_the_portal(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    for (user, role) in [("mia", "maintainer"), ("dev", "developer")] {
        server.create_user(user, &format!("{user}-password-1")).await;
        let admin = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
        let fields = [("project", "team"), ("kind", "user"), ("name", user), ("role", role)];
        assert_eq!(call(&admin, &server, "add_member", &fields).await.0, StatusCode::OK);
    }
    let admin = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
    let mia = common::portal_client(&server, "mia", "mia-password-1").await;
    let dev = common::portal_client(&server, "dev", "dev-password-1").await;
    common::push_image(&common::admin_client(), &server, "team/app", "v1", b"layer").await;

    let create = |name: &'static str, days: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut fields =
            vec![("project", "team"), ("name", name), ("description", "builds"), ("expires_in_days", days)];
        fields.extend_from_slice(extra);
        fields
    };
    for (fields, status, mentions) in [
        (create("ci", "30", &[]), StatusCode::BAD_REQUEST, "permissions"),
        (create("Bad Name", "30", &[("pull", "on")]), StatusCode::BAD_REQUEST, "name"),
        (create("ci", "soon", &[("pull", "on")]), StatusCode::BAD_REQUEST, "expires_in_days"),
        (create("ci", "0", &[("pull", "on")]), StatusCode::BAD_REQUEST, "expires_in_days"),
    ] {
        let (got, body) = call(&mia, &server, "create_robot", &fields).await;
        assert_eq!(got, status, "{fields:?}: {body}");
        assert!(body.to_string().contains(mentions), "{fields:?}: {body}");
    }
    let (status, _) = call(&dev, &server, "create_robot", &create("sneaky", "", &[("pull", "on")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a developer's forged call is refused");
    let (status, _) = call(&dev, &server, "project_robots", &[("project", "team")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, created) = call(&mia, &server, "create_robot", &create("ci", "", &[("pull", "on")])).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["name"], "robot$team+ci");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let (status, _) = call(&mia, &server, "create_robot", &create("ci", "", &[("pull", "on")])).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, robots) = call(&mia, &server, "project_robots", &[("project", "team")]).await;
    assert_eq!(robots["total"], 1);
    let robot = &robots["items"][0];
    assert_eq!((robot["name"].as_str(), robot["description"].as_str()), (Some("robot$team+ci"), Some("builds")));
    assert_eq!((robot["permissions"].clone(), robot["expires_at"].is_null()), (serde_json::json!(["pull"]), true));
    assert_eq!((robot["disabled"].as_bool(), robot["expired"].as_bool()), (Some(false), Some(false)));
    assert!(!robots.to_string().contains(&secret), "the secret is never listed");
    let id = robot["id"].as_i64().unwrap().to_string();

    // The secret works at the registry for what was granted, and no more.
    let manifest = "/v2/team/app/manifests/v1";
    let robot_client = common::client_as("robot$team+ci", &secret);
    assert_eq!(robot_client.get(server.url(manifest)).send().await.unwrap().status(), StatusCode::OK);
    let push = common::push_blob(&robot_client, &server, "team/app", b"more").await;
    assert_eq!(push, StatusCode::FORBIDDEN, "pull only");

    // Refreshing replaces the secret at once.
    let (status, refreshed) = call(&mia, &server, "refresh_robot_secret", &[("project", "team"), ("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = refreshed["secret"].as_str().unwrap().to_owned();
    assert_ne!(fresh, secret);
    assert_eq!(robot_client.get(server.url(manifest)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let robot_client = common::client_as("robot$team+ci", &fresh);
    assert_eq!(robot_client.get(server.url(manifest)).send().await.unwrap().status(), StatusCode::OK);

    // Disabling stops it; enabling lets it in again.
    let toggle = |disabled: &'static str| [("project", "team"), ("id", id.as_str()), ("disabled", disabled)];
    assert_eq!(call(&dev, &server, "set_robot_disabled", &toggle("true")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&mia, &server, "set_robot_disabled", &toggle("true")).await.0, StatusCode::OK);
    assert_eq!(robot_client.get(server.url(manifest)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let (_, robots) = call(&mia, &server, "project_robots", &[("project", "team")]).await;
    assert_eq!(robots["items"][0]["disabled"], true);
    assert_eq!(call(&mia, &server, "set_robot_disabled", &toggle("false")).await.0, StatusCode::OK);
    assert_eq!(robot_client.get(server.url(manifest)).send().await.unwrap().status(), StatusCode::OK);

    // Another project's robot is not reachable through this one.
    let (status, other) = call(
        &admin,
        &server,
        "create_robot",
        &[("project", "other"), ("name", "ci"), ("expires_in_days", "7"), ("push", "on"), ("pull", "on")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{other}");
    let (_, others) = call(&admin, &server, "project_robots", &[("project", "other")]).await;
    let other = &others["items"][0];
    assert!(other["expires_at"].is_string());
    assert_eq!(other["permissions"], serde_json::json!(["pull", "push"]));
    let other_id = other["id"].as_i64().unwrap().to_string();
    for function in ["refresh_robot_secret", "delete_robot"] {
        let (status, _) = call(&mia, &server, function, &[("project", "team"), ("id", &other_id)]).await;
        assert!(matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "{function}: {status}");
    }
    let (status, _) = call(&admin, &server, "delete_robot", &[("project", "team"), ("id", &other_id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "even an administrator names the robot's own project");
    assert_eq!(call(&admin, &server, "project_robots", &[("project", "other")]).await.1["total"], 1);

    assert_eq!(call(&mia, &server, "delete_robot", &[("project", "team"), ("id", &id)]).await.0, StatusCode::OK);
    assert_eq!(robot_client.get(server.url(manifest)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let (_, none) = call(&mia, &server, "project_robots", &[("project", "team")]).await;
    assert_eq!((none["total"].as_i64(), none["items"].as_array().map(Vec::len)), (Some(0), Some(0)));

    // Keyset pages of 25 by name.
    for n in 0..27 {
        let name = format!("bot{n:02}");
        let fields = [("project", "team"), ("name", name.as_str()), ("pull", "on")];
        assert_eq!(call(&mia, &server, "create_robot", &fields).await.0, StatusCode::OK);
    }
    let (_, first) = call(&mia, &server, "project_robots", &[("project", "team")]).await;
    assert_eq!((first["total"].as_i64(), first["items"].as_array().unwrap().len()), (Some(27), 25));
    assert_eq!(first["items"][0]["name"], "robot$team+bot00");
    let next = first["next"].as_str().unwrap().to_owned();
    let (_, second) = call(&mia, &server, "project_robots", &[("project", "team"), ("after", &next)]).await;
    let names: Vec<&str> = second["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["robot$team+bot25", "robot$team+bot26"]);
    assert!(second["next"].is_null());
    server.stop().await;
}

/// Concurrent pushes into one project are checked against its quota one
/// after another: together they never pass it.
async fn concurrent_pushes_stay_within_the_quota(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
    let fields = [("name", "tight"), ("quota", "1"), ("quota_unit", "MiB")];
    assert_eq!(call(&admin, &server, "create_project", &fields).await.0, StatusCode::OK);
    let pusher = common::admin_client();
    // Eight blobs of 200 KiB into 1 MiB: five fit, whatever the interleaving.
    let pushes = (0..8u8).map(|n| {
        let (pusher, server) = (pusher.clone(), &server);
        async move { common::push_blob(&pusher, server, "tight/app", &vec![n; 200 * 1024]).await }
    });
    let statuses = futures_util::future::join_all(pushes).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let denied = statuses.iter().filter(|s| **s == StatusCode::FORBIDDEN).count();
    assert_eq!((created, denied), (5, 3), "{statuses:?}");
    let (_, listed) = call(&admin, &server, "projects", &[("search", "tight")]).await;
    let used = listed["projects"]["items"][0]["storage_used"].as_i64().unwrap();
    assert_eq!(used, 5 * 200 * 1024);
    server.stop().await;
}

on_both_databases!(
    project_logs_in_the_portal,
    projects_in_the_portal,
    project_pages,
    the_dashboard_counts_what_the_user_may_see,
    members_in_the_portal,
    robots_in_the_portal,
    concurrent_pushes_stay_within_the_quota
);
