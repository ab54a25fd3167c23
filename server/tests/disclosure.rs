//! What Berth never hands out by being asked: a stored secret to a host it
//! was not saved for, and to callers without the permission, whether a
//! group exists (or a new group row).

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn error_text(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

/// Changing only the address of the directory or the provider does not
/// send the saved secret there: the secret must come with the change.
async fn saved_secrets_stay_with_their_hosts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let configurations = server.url("/api/v2.0/configurations");
    let put = |body: Value| admin.put(&configurations).json(&body).send();
    let saved = json!({
        "ldap_url": "ldap://127.0.0.1:1", "ldap_search_dn": "cn=reader,dc=example,dc=org",
        "ldap_search_password": "bind-secret", "ldap_base_dn": "dc=example,dc=org",
        "oidc_endpoint": "https://idp.example/realms/main", "oidc_client_id": "berth",
        "oidc_client_secret": "client-secret",
    });
    assert_eq!(put(saved).await.unwrap().status(), StatusCode::OK);

    let moved = put(json!({"ldap_url": "ldap://198.51.100.1:389"})).await.unwrap();
    assert_eq!(moved.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(moved).await.starts_with("ldap_search_password: the server or how it is reached changed"));
    let moved = put(json!({"oidc_endpoint": "https://evil.example/realms/main"})).await.unwrap();
    assert_eq!(moved.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(moved).await.starts_with("oidc_client_secret: the server or how it is reached changed"));

    // Another realm on the same host, or less protection, counts as moving too.
    let realm = put(json!({"oidc_endpoint": "https://idp.example/realms/other"})).await.unwrap();
    assert_eq!(realm.status(), StatusCode::BAD_REQUEST);
    let unchecked = put(json!({"ldap_verify_cert": false})).await.unwrap();
    assert_eq!(unchecked.status(), StatusCode::BAD_REQUEST);
    // The same server, reached the same way, keeps its secret; a secret sent along is used.
    assert_eq!(put(json!({"ldap_url": "ldap://127.0.0.1:1/"})).await.unwrap().status(), StatusCode::OK);
    let same_issuer = put(json!({"oidc_endpoint": "https://IDP.example/realms/main/"})).await.unwrap();
    assert_eq!(same_issuer.status(), StatusCode::OK);
    let both = json!({"ldap_url": "ldap://198.51.100.1", "ldap_search_password": "other-secret"});
    assert_eq!(put(both).await.unwrap().status(), StatusCode::OK);

    // Testing a connection to a new address with the saved password is refused too.
    let ping = admin.post(server.url("/api/v2.0/ldap/ping")).json(&json!({"ldap_url": "ldap://203.0.113.5"}));
    let ping = ping.send().await.unwrap();
    assert_eq!(ping.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(ping).await.starts_with("ldap_search_password:"));
    server.stop().await;
}

/// A caller who may not manage a project's members learns nothing and
/// writes nothing by adding a group: the permission is checked first.
async fn adding_a_member_checks_permission_before_looking_anything_up(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    let admin = common::admin_client();
    let robot = json!({
        "name": "outsider", "duration": -1, "level": "project",
        "permissions": [{"kind": "project", "namespace": "other", "access": [{"resource": "repository", "action": "pull"}]}],
    });
    let created: Value =
        admin.post(server.url("/api/v2.0/robots")).json(&robot).send().await.unwrap().json().await.unwrap();
    let outsider = common::client_as(created["name"].as_str().unwrap(), created["secret"].as_str().unwrap());
    let oidc = json!({
        "auth_mode": "oidc_auth", "oidc_endpoint": "https://idp.example/realms/main",
        "oidc_client_id": "berth", "oidc_client_secret": "client-secret",
    });
    assert_eq!(
        admin.put(server.url("/api/v2.0/configurations")).json(&oidc).send().await.unwrap().status(),
        StatusCode::OK
    );

    let member = json!({"role_id": 2, "member_group": {"group_type": 3, "group_name": "probe-group"}});
    let refused = outsider.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let groups: Vec<Value> = admin.get(server.url("/api/v2.0/usergroups")).send().await.unwrap().json().await.unwrap();
    assert!(groups.iter().all(|g| g["group_name"] != "probe-group"), "no group row was written: {groups:?}");

    // The administrator may, and then the group exists.
    let added = admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let groups: Vec<Value> = admin.get(server.url("/api/v2.0/usergroups")).send().await.unwrap().json().await.unwrap();
    assert!(groups.iter().any(|g| g["group_name"] == "probe-group"));
    server.stop().await;
}

on_both_databases!(saved_secrets_stay_with_their_hosts, adding_a_member_checks_permission_before_looking_anything_up);
