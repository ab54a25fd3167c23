//! A real OpenID provider for one test (npm `oidc-provider`, run by node
//! from `end2end/support/oidc-provider.mjs`, installed by `scripts/test.sh`),
//! and a browser-like walk through its sign-in page.

use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub const CLIENT_ID: &str = "berth";
pub const CLIENT_SECRET: &str = "berth-client-secret";

pub struct OidcProvider {
    child: Child,
    port: u16,
    redirect_uri: String,
    groups: String,
    pub issuer: String,
}

impl OidcProvider {
    /// Serves a provider whose one client may redirect to `redirect_uri`;
    /// `groups` lists each username's groups claim.
    pub fn start(redirect_uri: &str, groups: &[(&str, &[&str])]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let groups: serde_json::Map<String, serde_json::Value> =
            groups.iter().map(|(user, groups)| (user.to_string(), serde_json::json!(groups))).collect();
        let groups = serde_json::Value::Object(groups).to_string();
        let child = spawn(port, redirect_uri, &groups);
        Self { child, port, redirect_uri: redirect_uri.to_owned(), groups, issuer: format!("http://127.0.0.1:{port}") }
    }

    /// Stops and starts the provider on the same address: it forgets every
    /// session and grant (its storage is in memory), as if its users had
    /// been signed out everywhere.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, &self.redirect_uri, &self.groups);
    }

    /// Harbor-style configuration switching Berth to this provider.
    pub fn berth_configuration(&self, admin_group: &str) -> serde_json::Value {
        serde_json::json!({
            "auth_mode": "oidc_auth",
            "oidc_name": "Test IdP",
            "oidc_endpoint": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_scope": "openid,profile,email,groups,offline_access",
            "oidc_user_claim": "preferred_username",
            "oidc_groups_claim": "groups",
            "oidc_admin_group": admin_group,
            "oidc_verify_cert": true,
        })
    }
}

fn spawn(port: u16, redirect_uri: &str, groups: &str) -> Child {
    let end2end = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    assert!(
        end2end.join("node_modules/oidc-provider").exists(),
        "end2end/node_modules/oidc-provider is missing: scripts/test.sh installs it"
    );
    let child = Command::new("node")
        .arg(end2end.join("support/oidc-provider.mjs"))
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_CLIENT_ID", CLIENT_ID)
        .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .env("OIDC_REDIRECT_URIS", redirect_uri)
        .env("OIDC_GROUPS", groups)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (scripts/test.sh installs nodejs)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the OIDC provider did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every URL a browser visits following redirects from `url`, and the last answer.
pub async fn follow(client: &reqwest::Client, url: &str) -> (Vec<String>, reqwest::Response) {
    let mut visited = vec![url.to_owned()];
    let mut response = client.get(url).send().await.unwrap();
    while response.status().is_redirection() {
        let location = response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
        let next = response.url().join(&location).unwrap().to_string();
        visited.push(next.clone());
        response = client.get(&next).send().await.unwrap();
    }
    (visited, response)
}

/// Submits the provider's login form as `username` and follows redirects
/// back to Berth; returns the URLs visited.
pub async fn submit_login(client: &reqwest::Client, login_page: reqwest::Response, username: &str) -> Vec<String> {
    let page_url = login_page.url().clone();
    let html = login_page.text().await.unwrap();
    let action = html
        .split("<form")
        .skip(1)
        .find_map(|form| form.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()))
        .unwrap_or_else(|| panic!("the provider's login page has a form: {html}"));
    let response = client
        .post(page_url.join(action).unwrap())
        .form(&[("prompt", "login"), ("login", username), ("password", "anything at all")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "the login form redirects: {}", response.status());
    let location = response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
    let (visited, last) = follow(client, response.url().join(&location).unwrap().as_str()).await;
    assert!(last.status().is_success(), "the walk ends on a page: {} at {}", last.status(), last.url());
    visited
}

/// Signs `username` in to Berth through the provider in a fresh browser-like
/// client; returns the client (holding the session) and the URLs visited.
pub async fn sign_in(berth: &str, username: &str) -> (reqwest::Client, Vec<String>) {
    let client = super::browser_like_client();
    let (mut visited, page) = follow(&client, &format!("{berth}/c/oidc/login")).await;
    assert!(page.status().is_success(), "the provider shows its login page: {}", page.status());
    visited.extend(submit_login(&client, page, username).await);
    (client, visited)
}
