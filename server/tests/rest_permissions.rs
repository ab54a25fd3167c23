//! The REST API's permission sweep, on SQLite and PostgreSQL: every
//! endpoint called as every kind of caller (anonymous, an outsider, each
//! project role, a system administrator, a robot with and without the
//! permission) answers as Harbor's permission matrix says; and ids of
//! another project's objects, presented through this project, are refused.

mod common;

use common::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Outsider,
    Guest,
    Developer,
    Maintainer,
    ProjectAdmin,
    SystemAdmin,
    /// May pull and push in the project.
    RobotWith,
    /// May pull only in another project.
    RobotWithout,
}

use Caller::*;

const EVERYONE: [Caller; 9] =
    [Anonymous, Outsider, Guest, Developer, Maintainer, ProjectAdmin, SystemAdmin, RobotWith, RobotWithout];

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Anonymous => "anonymous",
            Outsider => "outsider",
            Guest => "guest",
            Developer => "developer",
            Maintainer => "maintainer",
            ProjectAdmin => "padmin",
            SystemAdmin => "sysadmin",
            RobotWith => "robot-with",
            RobotWithout => "robot-without",
        }
    }
}

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;

/// Who may read the project (pull): its members, administrators, a robot granted pull.
fn readers(caller: Caller, allowed: StatusCode) -> StatusCode {
    match caller {
        Anonymous => UNAUTHORIZED,
        Outsider | RobotWithout => FORBIDDEN,
        _ => allowed,
    }
}

/// Members from `least` up, and system administrators; robots never.
fn members_from(caller: Caller, least: Caller, allowed: StatusCode) -> StatusCode {
    let rank = |c: Caller| match c {
        Guest => 1,
        Developer => 2,
        Maintainer => 3,
        ProjectAdmin => 4,
        SystemAdmin => 5,
        _ => 0,
    };
    match caller {
        Anonymous => UNAUTHORIZED,
        _ if rank(caller) >= rank(least) && rank(caller) > 0 => allowed,
        _ => FORBIDDEN,
    }
}

fn system_admins(caller: Caller) -> StatusCode {
    match caller {
        Anonymous => UNAUTHORIZED,
        SystemAdmin => OK,
        _ => FORBIDDEN,
    }
}

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    expect: Box<dyn Fn(Caller) -> StatusCode>,
}

fn case(
    method: Method,
    path: impl Into<String>,
    body: Option<Value>,
    expect: impl Fn(Caller) -> StatusCode + 'static,
) -> Case {
    Case { method, path: path.into(), body, expect: Box::new(expect) }
}

async fn every_endpoint_for_every_caller(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let post = |path: &str, body: Value| admin.post(server.url(path)).json(&body).send();
    for project in ["team", "other"] {
        assert_eq!(post("/api/v2.0/projects", json!({"project_name": project})).await.unwrap().status(), CREATED);
        common::push_empty_image(&admin, &server, &format!("{project}/app"), "v1").await;
    }
    let mut clients = Vec::new();
    for (caller, role) in [(Outsider, 0), (Guest, 3), (Developer, 2), (Maintainer, 4), (ProjectAdmin, 1)] {
        server.create_user(caller.name(), "Sweep-password-1").await;
        if role > 0 {
            let member = json!({"role_id": role, "member_user": {"username": caller.name()}});
            assert_eq!(post("/api/v2.0/projects/team/members", member).await.unwrap().status(), CREATED);
        }
        clients.push((caller, common::client_as(caller.name(), "Sweep-password-1")));
    }
    let robot = |name: &str, project: &str, actions: &[&str]| {
        let access: Vec<Value> = actions.iter().map(|a| json!({"resource": "repository", "action": a})).collect();
        json!({"name": name, "level": "project", "duration": -1,
               "permissions": [{"kind": "project", "namespace": project, "access": access}]})
    };
    let mut team_robot = 0;
    for (caller, body) in
        [(RobotWith, robot("rw", "team", &["pull", "push"])), (RobotWithout, robot("ro", "other", &["pull"]))]
    {
        let created: Value = post("/api/v2.0/robots", body).await.unwrap().json().await.unwrap();
        if caller == RobotWith {
            team_robot = created["id"].as_i64().unwrap();
        }
        clients
            .push((caller, common::client_as(created["name"].as_str().unwrap(), created["secret"].as_str().unwrap())));
    }
    clients.push((SystemAdmin, admin.clone()));
    clients.push((Anonymous, reqwest::Client::new()));
    assert!(EVERYONE.iter().all(|caller| clients.iter().any(|(c, _)| c == caller)), "every caller is swept");

    let team_id = server.state.projects.find("team").await.unwrap().unwrap().id.0;
    let missing_digest = format!("sha256:{}", "0".repeat(64));
    let cases = vec![
        case(Method::GET, "/api/v2.0/projects/team", None, |c| readers(c, OK)),
        case(Method::GET, format!("/api/v2.0/projects/{team_id}"), None, |c| readers(c, OK)),
        case(Method::GET, "/api/v2.0/projects/team/summary", None, |c| readers(c, OK)),
        case(Method::GET, "/api/v2.0/projects/team/repositories", None, |c| readers(c, OK)),
        case(Method::GET, "/api/v2.0/projects/team/repositories/app", None, |c| readers(c, OK)),
        case(Method::GET, "/api/v2.0/projects/team/repositories/app/artifacts", None, |c| readers(c, OK)),
        case(Method::GET, "/api/v2.0/projects/team/repositories/app/artifacts/v1", None, |c| readers(c, OK)),
        case(Method::GET, "/api/v2.0/projects/team/repositories/app/artifacts/v1/tags", None, |c| readers(c, OK)),
        case(Method::GET, "/api/v2.0/projects/team/members", None, |c| members_from(c, Guest, OK)),
        case(Method::GET, "/api/v2.0/projects/team/logs", None, |c| members_from(c, Guest, OK)),
        case(Method::GET, format!("/api/v2.0/robots?q=Level%3Dproject,ProjectID%3D{team_id}"), None, |c| {
            members_from(c, Maintainer, OK)
        }),
        case(Method::GET, "/api/v2.0/audit-logs", None, system_admins),
        case(Method::GET, "/api/v2.0/users", None, system_admins),
        case(Method::GET, "/api/v2.0/usergroups", None, system_admins),
        case(Method::GET, "/api/v2.0/quotas", None, system_admins),
        case(Method::GET, format!("/api/v2.0/quotas/{team_id}"), None, system_admins),
        case(Method::PUT, format!("/api/v2.0/quotas/{team_id}"), Some(json!({"hard": {"storage": -1}})), system_admins),
        case(Method::GET, "/api/v2.0/configurations", None, system_admins),
        case(Method::GET, "/api/v2.0/robots", None, system_admins),
        case(Method::PUT, "/api/v2.0/projects/team", Some(json!({"metadata": {"public": "false"}})), |c| {
            members_from(c, ProjectAdmin, OK)
        }),
        // Permission is decided before the (missing) artifact is looked for.
        case(
            Method::DELETE,
            format!("/api/v2.0/projects/team/repositories/app/artifacts/{missing_digest}"),
            None,
            |c| members_from(c, Maintainer, NOT_FOUND),
        ),
        case(Method::DELETE, "/api/v2.0/projects/team/repositories/app/artifacts/v1/tags/none", None, |c| {
            members_from(c, Maintainer, NOT_FOUND)
        }),
        case(Method::DELETE, "/api/v2.0/projects/team", None, |c| {
            members_from(c, ProjectAdmin, StatusCode::PRECONDITION_FAILED)
        }),
        // As for artifacts: permission first, then the (missing) repository.
        case(Method::DELETE, "/api/v2.0/projects/team/repositories/missing", None, |c| {
            members_from(c, Maintainer, NOT_FOUND)
        }),
        case(Method::PUT, "/api/v2.0/projects/team/repositories/app", Some(json!({"description": "# App"})), |c| {
            members_from(c, Developer, OK)
        }),
        case(Method::PUT, format!("/api/v2.0/robots/{team_robot}"), Some(json!({"description": "swept"})), |c| {
            members_from(c, Maintainer, OK)
        }),
        // Tag immutability rules: members read them, maintainers change them; robots neither.
        case(Method::GET, "/api/v2.0/projects/team/immutabletagrules", None, |c| members_from(c, Guest, OK)),
        case(
            Method::POST,
            "/api/v2.0/projects/team/immutabletagrules",
            Some(json!({
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "sweep-*"}],
                "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
            })),
            |c| members_from(c, Maintainer, CREATED),
        ),
        case(Method::PUT, "/api/v2.0/projects/team/immutabletagrules/999999", Some(json!({"disabled": true})), |c| {
            members_from(c, Maintainer, NOT_FOUND)
        }),
        case(Method::DELETE, "/api/v2.0/projects/team/immutabletagrules/999999", None, |c| {
            members_from(c, Maintainer, NOT_FOUND)
        }),
        // Any signed-in person may look accounts up; robots are no persons.
        case(Method::GET, "/api/v2.0/users/search?username=a", None, |c| match c {
            Anonymous => UNAUTHORIZED,
            RobotWith | RobotWithout => FORBIDDEN,
            _ => OK,
        }),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        for (caller, client) in &clients {
            let mut request = client.request(case.method.clone(), server.url(&case.path));
            if let Some(body) = &case.body {
                request = request.json(body);
            }
            let status = request.send().await.unwrap().status();
            let expected = (case.expect)(*caller);
            if status != expected {
                failures.push(format!(
                    "{} {} as {}: {status}, expected {expected}",
                    case.method,
                    case.path,
                    caller.name()
                ));
            }
        }
    }

    // Changes that create something: a unique name per caller, so each may succeed.
    for (caller, client) in &clients {
        let name = caller.name();
        let writes = [
            (
                "/api/v2.0/projects/team/repositories/app/artifacts/v1/tags".to_owned(),
                json!({"name": format!("t-{name}")}),
                members_from(*caller, Maintainer, CREATED),
            ),
            (
                "/api/v2.0/projects/team/members".to_owned(),
                json!({"role_id": 3, "member_user": {"username": "outsider"}}),
                // The first caller allowed adds outsider; later ones find them a member.
                match members_from(*caller, ProjectAdmin, CREATED) {
                    CREATED if *caller == SystemAdmin => StatusCode::CONFLICT,
                    other => other,
                },
            ),
            (
                "/api/v2.0/robots".to_owned(),
                robot(&format!("r-{name}"), "team", &["pull"]),
                members_from(*caller, Maintainer, CREATED),
            ),
        ];
        for (path, body, expected) in writes {
            let status = client.post(server.url(&path)).json(&body).send().await.unwrap().status();
            if status != expected {
                failures.push(format!("POST {path} as {name}: {status}, expected {expected}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} answers differ from the matrix:\n{}", failures.len(), failures.join("\n"));
    server.stop().await;
}

/// Ids of another project's objects, presented through this project (or
/// to someone who administers only this project), are refused.
async fn another_projects_ids_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    server.create_user("padmin", "Sweep-password-1").await;
    let padmin = common::client_as("padmin", "Sweep-password-1");
    for project in ["team", "other"] {
        let created = admin.post(server.url("/api/v2.0/projects")).json(&json!({"project_name": project})).send().await;
        assert_eq!(created.unwrap().status(), CREATED);
        common::push_image(&admin, &server, &format!("{project}/app"), "v1", project.as_bytes()).await;
    }
    let member = json!({"role_id": 1, "member_user": {"username": "padmin"}});
    admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    let other_id = server.state.projects.find("other").await.unwrap().unwrap().id.0;
    let other_members: Vec<Value> =
        admin.get(server.url("/api/v2.0/projects/other/members")).send().await.unwrap().json().await.unwrap();
    let other_member = other_members[0]["id"].as_i64().unwrap();
    let robot = json!({"name": "ci", "level": "project", "duration": -1,
        "permissions": [{"kind": "project", "namespace": "other", "access": [{"resource": "repository", "action": "pull"}]}]});
    let other_robot: Value =
        admin.post(server.url("/api/v2.0/robots")).json(&robot).send().await.unwrap().json().await.unwrap();
    let other_robot = other_robot["id"].as_i64().unwrap();
    let other_digest: Value = admin
        .get(server.url("/api/v2.0/projects/other/repositories/app/artifacts/v1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other_digest = other_digest["digest"].as_str().unwrap().to_owned();
    let admin_id = server.state.users.find("admin").await.unwrap().unwrap().id.0;

    for (method, path, expected) in [
        (Method::GET, format!("/api/v2.0/projects/{other_id}"), FORBIDDEN),
        (Method::GET, format!("/api/v2.0/projects/{other_id}/members"), FORBIDDEN),
        (Method::GET, format!("/api/v2.0/projects/team/members/{other_member}"), NOT_FOUND),
        (Method::PUT, format!("/api/v2.0/projects/team/members/{other_member}"), NOT_FOUND),
        (Method::DELETE, format!("/api/v2.0/projects/team/members/{other_member}"), NOT_FOUND),
        (Method::GET, format!("/api/v2.0/robots/{other_robot}"), FORBIDDEN),
        (Method::DELETE, format!("/api/v2.0/robots/{other_robot}"), FORBIDDEN),
        (Method::PATCH, format!("/api/v2.0/robots/{other_robot}"), FORBIDDEN),
        (Method::GET, format!("/api/v2.0/projects/team/repositories/app/artifacts/{other_digest}"), NOT_FOUND),
        (Method::DELETE, format!("/api/v2.0/projects/team/repositories/app/artifacts/{other_digest}"), NOT_FOUND),
        (Method::GET, format!("/api/v2.0/users/{admin_id}"), FORBIDDEN),
        (Method::DELETE, format!("/api/v2.0/projects/{other_id}"), FORBIDDEN),
    ] {
        let mut request = padmin.request(method.clone(), server.url(&path));
        if method == Method::PUT {
            request = request.json(&json!({"role_id": 3}));
        }
        if method == Method::PATCH {
            request = request.json(&json!({}));
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, expected, "{method} {path}");
    }
    // Nothing of the other project changed.
    let still = admin.get(server.url("/api/v2.0/projects/other/repositories/app/artifacts/v1")).send().await.unwrap();
    assert_eq!(still.status(), OK);
    assert_eq!(admin.get(server.url(&format!("/api/v2.0/robots/{other_robot}"))).send().await.unwrap().status(), OK);
    server.stop().await;
}

on_both_databases!(every_endpoint_for_every_caller, another_projects_ids_are_refused);
