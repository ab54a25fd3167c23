//! A registry as its clients reach it, one node or a load balancer in
//! front of several, set up over REST as the administrator (so the same
//! test runs against either).

use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `http://host:port`, without a trailing slash.
    pub base: String,
}

/// A robot account as created: its full name and its secret.
pub struct Robot {
    pub name: String,
    pub secret: String,
    pub id: i64,
}

impl Endpoint {
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `host:port`, as image references name the registry.
    pub fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    async fn admin_sends(&self, request: reqwest::RequestBuilder, what: &str, expected: StatusCode) -> Value {
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, expected, "{what}: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// Creates private projects.
    pub async fn create_projects(&self, names: &[&str]) {
        let admin = super::admin_client();
        for name in names {
            let project = json!({"project_name": name, "metadata": {"public": "false"}});
            let request = admin.post(self.url("/api/v2.0/projects")).json(&project);
            self.admin_sends(request, &format!("create project {name}"), StatusCode::CREATED).await;
        }
    }

    pub async fn set_public(&self, project: &str, public: bool) {
        let body = json!({"metadata": {"public": public.to_string()}});
        let request = super::admin_client().put(self.url(&format!("/api/v2.0/projects/{project}"))).json(&body);
        self.admin_sends(request, &format!("make {project} public={public}"), StatusCode::OK).await;
    }

    /// Creates a database user.
    pub async fn create_user(&self, username: &str, password: &str) {
        let user = json!({"username": username, "password": password, "email": format!("{username}@example.com"), "realname": username});
        let request = super::admin_client().post(self.url("/api/v2.0/users")).json(&user);
        self.admin_sends(request, &format!("create user {username}"), StatusCode::CREATED).await;
    }

    /// Makes `username` a member of `project` with Harbor's role id (1
    /// project admin, 2 developer, 3 guest, 4 maintainer).
    pub async fn add_member(&self, project: &str, username: &str, role_id: i64) {
        let member = json!({"role_id": role_id, "member_user": {"username": username}});
        let request =
            super::admin_client().post(self.url(&format!("/api/v2.0/projects/{project}/members"))).json(&member);
        self.admin_sends(request, &format!("{username} joins {project}"), StatusCode::CREATED).await;
    }

    /// A project robot allowed `actions` on repositories (`pull`, `push`) for a day.
    pub async fn project_robot(&self, project: &str, name: &str, actions: &[&str]) -> Robot {
        let access: Vec<Value> =
            actions.iter().map(|action| json!({"resource": "repository", "action": action})).collect();
        let robot = json!({
            "name": name, "description": "made by a test", "level": "project", "duration": 1, "disable": false,
            "permissions": [{"kind": "project", "namespace": project, "access": access}],
        });
        let request = super::admin_client().post(self.url("/api/v2.0/robots")).json(&robot);
        let created = self.admin_sends(request, &format!("create robot {name}"), StatusCode::CREATED).await;
        Robot {
            name: created["name"].as_str().unwrap().to_owned(),
            secret: created["secret"].as_str().unwrap().to_owned(),
            id: created["id"].as_i64().unwrap(),
        }
    }

    /// Enables or disables a robot account.
    pub async fn set_robot_disabled(&self, robot: &Robot, disabled: bool) {
        let url = self.url(&format!("/api/v2.0/robots/{}", robot.id));
        let mut current = self.admin_sends(super::admin_client().get(&url), "read the robot", StatusCode::OK).await;
        current["disable"] = json!(disabled);
        self.admin_sends(super::admin_client().put(&url).json(&current), "update the robot", StatusCode::OK).await;
    }

    /// Switches sign-in to LDAP with `ldap`'s directory, over REST.
    pub async fn use_ldap(&self, ldap: &app::core::settings::LdapSettings) {
        let settings = json!({
            "auth_mode": "ldap_auth",
            "ldap_url": ldap.url,
            "ldap_search_dn": ldap.search_dn,
            "ldap_search_password": ldap.search_password,
            "ldap_base_dn": ldap.base_dn,
            "ldap_filter": ldap.user_filter,
            "ldap_group_base_dn": ldap.group_base_dn,
            "ldap_group_admin_dn": ldap.admin_group_dn,
        });
        let request = super::admin_client().put(self.url("/api/v2.0/configurations")).json(&settings);
        self.admin_sends(request, "switch to LDAP", StatusCode::OK).await;
        // Behind a load balancer each node reads the login mode anew within
        // 5 s: wait until it is seen three times running (every node).
        let (mut running, deadline) = (0, std::time::Instant::now() + std::time::Duration::from_secs(10));
        while running < 3 {
            let info: Value = reqwest::get(self.url("/api/v2.0/systeminfo")).await.unwrap().json().await.unwrap();
            running = if info["auth_mode"] == "ldap_auth" { running + 1 } else { 0 };
            assert!(std::time::Instant::now() < deadline, "LDAP sign-in never reached every node: {info}");
            if running == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }

    /// Makes the LDAP group `dn` a member of `project` with Harbor's role id.
    pub async fn add_ldap_group_member(&self, project: &str, dn: &str, role_id: i64) {
        let member = json!({"role_id": role_id, "member_group": {"group_type": 1, "ldap_group_dn": dn}});
        let request =
            super::admin_client().post(self.url(&format!("/api/v2.0/projects/{project}/members"))).json(&member);
        self.admin_sends(request, &format!("{dn} joins {project}"), StatusCode::CREATED).await;
    }
}
