//! `/api/v2.0/users` over real HTTP, on SQLite and PostgreSQL: Harbor's
//! shapes, who may list, read, change and delete accounts, and fields a
//! caller may not set (mass assignment) refused.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn accounts_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let users = server.url("/api/v2.0/users");
    let user_url = |id: i64| server.url(&format!("/api/v2.0/users/{id}"));

    // The administrator creates carl; the Location names the new account.
    let created = admin
        .post(&users)
        .json(&json!({"username": "carl", "password": "Carl-password-1", "email": "carl@example.com", "realname": "Carl"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let carl_id: i64 = created.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let carl = common::client_as("carl", "Carl-password-1");
    let me: Value = carl.get(server.url("/api/v2.0/users/current")).send().await.unwrap().json().await.unwrap();
    assert_eq!((me["user_id"].as_i64(), me["username"].as_str()), (Some(carl_id), Some("carl")));
    assert_eq!(me["sysadmin_flag"], false);
    assert_eq!(me["email"], "carl@example.com");
    let anonymous = reqwest::Client::new().get(server.url("/api/v2.0/users/current")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Bad requests are named; a caller can never make an administrator by sending the flag.
    for (client, body, status, mentions) in [
        (
            &admin,
            json!({"username": "eve", "password": "Eve-password-1", "sysadmin_flag": true}),
            StatusCode::BAD_REQUEST,
            "sysadmin_flag",
        ),
        (&admin, json!({"username": "eve", "password": "short"}), StatusCode::BAD_REQUEST, "password"),
        (&admin, json!({"username": "bad:name", "password": "Eve-password-1"}), StatusCode::BAD_REQUEST, "username"),
        (&admin, json!({"username": "carl", "password": "Carl-password-2"}), StatusCode::CONFLICT, "taken"),
        (&carl, json!({"username": "eve", "password": "Eve-password-1"}), StatusCode::FORBIDDEN, "administrators"),
    ] {
        let response = client.post(&users).json(&body).send().await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["errors"][0]["message"].as_str().unwrap().contains(mentions), "{body}: {error}");
    }
    // Without an account, only self-registration creates one, and only when it is on.
    let register = json!({"username": "dave", "password": "Dave-password-1"});
    let refused = reqwest::Client::new().post(&users).json(&register).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let on = admin.put(server.url("/api/v2.0/configurations")).json(&json!({"self_registration": true})).send().await;
    assert_eq!(on.unwrap().status(), StatusCode::OK);
    let registered = reqwest::Client::new().post(&users).json(&register).send().await.unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let dave_id: i64 = registered.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();

    // Listing is for administrators, paged and filtered.
    let listed = admin.get(format!("{users}?page_size=2")).send().await.unwrap();
    assert_eq!(listed.headers()["x-total-count"], "3");
    let names: Vec<String> =
        listed.json::<Vec<Value>>().await.unwrap().iter().map(|u| u["username"].as_str().unwrap().into()).collect();
    assert_eq!(names, ["admin", "carl"]);
    let filtered: Vec<Value> =
        admin.get(format!("{users}?q=username%3D~AV")).send().await.unwrap().json().await.unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["username"], "dave");
    assert_eq!(carl.get(&users).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // One account: its owner or an administrator.
    assert_eq!(carl.get(user_url(carl_id)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(carl.get(user_url(dave_id)).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(admin.get(user_url(dave_id)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(admin.get(user_url(999_999)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // An id that is no number gets Harbor's error body too, not plain text.
    let unreadable = admin.get(server.url("/api/v2.0/users/9223372036854775808")).send().await.unwrap();
    assert_eq!(unreadable.status(), StatusCode::BAD_REQUEST);
    assert_eq!(unreadable.json::<Value>().await.unwrap()["errors"][0]["code"], "BAD_REQUEST");
    let renamed = carl.put(user_url(carl_id)).json(&json!({"realname": "Carl C."})).send().await.unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let me: Value = carl.get(user_url(carl_id)).send().await.unwrap().json().await.unwrap();
    assert_eq!((me["realname"].as_str(), me["email"].as_str()), (Some("Carl C."), Some("carl@example.com")));
    assert_eq!(
        carl.put(user_url(dave_id)).json(&json!({"realname": "x"})).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // Passwords: the owner gives the old one; the new one works at once.
    let password = |id: i64| server.url(&format!("/api/v2.0/users/{id}/password"));
    let wrong =
        carl.put(password(carl_id)).json(&json!({"old_password": "nope", "new_password": "Carl-password-2"})).send();
    assert_eq!(wrong.await.unwrap().status(), StatusCode::BAD_REQUEST);
    let changed = carl
        .put(password(carl_id))
        .json(&json!({"old_password": "Carl-password-1", "new_password": "Carl-password-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(carl.get(user_url(carl_id)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let carl = common::client_as("carl", "Carl-password-2");
    assert_eq!(carl.get(user_url(carl_id)).send().await.unwrap().status(), StatusCode::OK);

    // The administrator flag: administrators set it for others, never for themselves.
    let sysadmin = |id: i64| server.url(&format!("/api/v2.0/users/{id}/sysadmin"));
    assert_eq!(
        carl.put(sysadmin(carl_id)).json(&json!({"sysadmin_flag": true})).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin.put(sysadmin(carl_id)).json(&json!({"sysadmin_flag": true})).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(carl.get(&users).send().await.unwrap().status(), StatusCode::OK);
    let admin_id = server.state.users.find("admin").await.unwrap().unwrap().id.0;
    assert_eq!(
        carl.put(sysadmin(admin_id)).json(&json!({"sysadmin_flag": false})).send().await.unwrap().status(),
        StatusCode::CONFLICT
    );

    // Anyone signed in finds accounts by part of the name (to add members):
    // id and username only.
    let found = carl.get(server.url("/api/v2.0/users/search?username=av")).send().await.unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    assert_eq!(found.headers()["x-total-count"], "1");
    let found: Vec<Value> = found.json().await.unwrap();
    assert_eq!(found, [json!({"user_id": dave_id, "username": "dave"})]);
    let empty = carl.get(server.url("/api/v2.0/users/search?username=")).send().await.unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let anonymous = reqwest::Client::new().get(server.url("/api/v2.0/users/search?username=a")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // A database account has no CLI secret to set.
    let secret = carl
        .put(server.url(&format!("/api/v2.0/users/{carl_id}/cli_secret")))
        .json(&json!({"secret": "Abcdefg1"}))
        .send();
    assert_eq!(secret.await.unwrap().status(), StatusCode::CONFLICT);

    // Deleting: administrators, never `admin` itself; the account stops working.
    assert_eq!(admin.delete(user_url(admin_id)).send().await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(admin.delete(user_url(dave_id)).send().await.unwrap().status(), StatusCode::OK);
    let dave = common::client_as("dave", "Dave-password-1");
    assert_eq!(
        dave.get(server.url("/api/v2.0/users/current")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(admin.get(user_url(dave_id)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

/// `systeminfo` tells anyone how to sign in, and signed-in callers more.
async fn system_info_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = server.url("/api/v2.0/systeminfo");
    let anonymous: Value = reqwest::Client::new().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(anonymous["auth_mode"], "db_auth");
    assert_eq!(anonymous["self_registration"], false);
    assert!(anonymous.get("external_url").is_none(), "{anonymous}");
    let signed_in: Value = common::admin_client().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(signed_in["external_url"], server.base.as_str());
    assert_eq!(signed_in["project_creation_restriction"], "everyone");
    assert_eq!(signed_in["registry_storage_provider_name"], "filesystem");
    // LDAP "test connection" against nothing listening says so without failing the request.
    let ping = common::admin_client()
        .post(server.url("/api/v2.0/ldap/ping"))
        .json(&json!({"ldap_url": "ldap://127.0.0.1:1", "ldap_base_dn": "dc=example,dc=com", "ldap_uid": "uid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::OK);
    let ping: Value = ping.json().await.unwrap();
    assert_eq!(ping["success"], false);
    // Settings that cannot work fail the test the same way, naming what is wrong.
    let bad =
        common::admin_client().post(server.url("/api/v2.0/ldap/ping")).json(&json!({"ldap_url": "http://x"})).send();
    let bad: Value = bad.await.unwrap().json().await.unwrap();
    assert_eq!(bad["success"], false);
    assert!(bad["message"].as_str().unwrap().contains("url"), "{bad}");
    server.create_user("carl", "Carl-password-1").await;
    let refused = common::client_as("carl", "Carl-password-1").post(server.url("/api/v2.0/ldap/ping")).send().await;
    assert_eq!(refused.unwrap().status(), StatusCode::FORBIDDEN);
    server.stop().await;
}
on_both_databases!(accounts_over_rest, system_info_over_rest);
