//! Database accounts over the core and real HTTP, on SQLite and PostgreSQL:
//! administrators create users, self-registration is off until turned on
//! and never makes administrators, and a changed password replaces the old
//! one at once — including Basic credentials a registry client keeps sending.

mod common;

use app::core::{
    Error,
    events::AuditQuery,
    identity::{Actor, Principal},
    users::NewAccount,
};
use common::{Backend, TestServer};
use reqwest::StatusCode;

fn account<'a>(username: &'a str, password: &'a str, is_admin: bool) -> NewAccount<'a> {
    NewAccount { username, password, email: Some("someone@berth.test"), full_name: "Some One", is_admin }
}

async fn v2_status(server: &TestServer, username: &str, password: &str) -> StatusCode {
    common::client_as(username, password).get(server.url("/v2/")).send().await.unwrap().status()
}

async fn administrators_create_users_and_people_may_register_when_allowed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let ops = server.state.users.create_user(&admin, account("ops", "Ops-Passw0rd", true)).await.unwrap();
    assert!(ops.is_admin, "an administrator may create administrators");
    let plain: Actor = Principal::User(server.create_user("plain", "Plain-Passw0rd").await).into();
    let refused = server.state.users.create_user(&plain, account("sneaky", "Sneaky-Passw0rd", false)).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let taken = server.state.users.create_user(&admin, account("ops", "Other-Passw0rd", false)).await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    let short = server.state.users.create_user(&admin, account("shorty", "short", false)).await;
    assert!(matches!(short, Err(Error::Invalid { field: "password", .. })), "{short:?}");

    // Self-registration: off by default, on when allowed, never an administrator.
    let closed = server.state.users.register(account("visitor", "Visitor-Passw0rd", false), None).await;
    assert!(matches!(closed, Err(Error::Forbidden(_))), "{closed:?}");
    let refused = server.state.settings.set_self_registration(&plain, true).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))));
    server.state.settings.set_self_registration(&admin, true).await.unwrap();
    let visitor =
        server.state.users.register(account("visitor", "Visitor-Passw0rd", true), Some("192.0.2.9")).await.unwrap();
    assert!(!visitor.is_admin, "registration never grants admin");
    assert_eq!(v2_status(&server, "visitor", "Visitor-Passw0rd").await, StatusCode::OK);

    server.state.events.flush().await;
    let query = AuditQuery { resource_type: Some("user"), ..Default::default() };
    let events = server.state.audit.list(&admin, &query, app::core::db::Window::new(0, 10)).await.unwrap().items;
    let seen: Vec<(&str, Option<&str>, Option<&str>)> =
        events.iter().map(|e| (e.resource.as_str(), e.actor.as_deref(), e.client_addr.as_deref())).collect();
    assert_eq!(
        seen,
        [
            ("visitor", Some("visitor"), Some("192.0.2.9")),
            ("plain", Some("admin"), None),
            ("ops", Some("admin"), None),
            // The first administrator, made at the first start.
            ("admin", None, None)
        ]
    );
    server.stop().await;
}

async fn a_changed_password_replaces_the_old_one_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let dev = server.create_user("dev", "First-Passw0rd").await;
    let dev: Actor = Principal::User(dev).into();
    // A registry client has been sending the old password (now remembered).
    assert_eq!(v2_status(&server, "dev", "First-Passw0rd").await, StatusCode::OK);

    let no_current = server.state.users.change_password(&dev, "dev", None, "Second-Passw0rd").await;
    assert!(matches!(no_current, Err(Error::Invalid { field: "current_password", .. })), "{no_current:?}");
    let wrong = server.state.users.change_password(&dev, "dev", Some("guess".into()), "Second-Passw0rd").await;
    assert!(matches!(wrong, Err(Error::Invalid { field: "current_password", .. })), "{wrong:?}");
    server.state.users.change_password(&dev, "dev", Some("First-Passw0rd".into()), "Second-Passw0rd").await.unwrap();
    assert_eq!(v2_status(&server, "dev", "First-Passw0rd").await, StatusCode::UNAUTHORIZED, "old password, at once");
    assert_eq!(v2_status(&server, "dev", "Second-Passw0rd").await, StatusCode::OK);

    // Nobody else changes it, except an administrator (without the current one).
    let other: Actor = Principal::User(server.create_user("other", "Other-Passw0rd").await).into();
    let refused = server.state.users.change_password(&other, "dev", None, "Third-Passw0rd").await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    server.state.users.change_password(&admin, "dev", None, "Reset-Passw0rd").await.unwrap();
    assert_eq!(v2_status(&server, "dev", "Second-Passw0rd").await, StatusCode::UNAUTHORIZED);
    assert_eq!(v2_status(&server, "dev", "Reset-Passw0rd").await, StatusCode::OK);
    server.stop().await;
}

on_both_databases!(
    administrators_create_users_and_people_may_register_when_allowed,
    a_changed_password_replaces_the_old_one_at_once,
);
