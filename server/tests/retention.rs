//! Tag retention over real HTTP, on SQLite and PostgreSQL, with Harbor's
//! `/retentions` API: a repository of 500 artifacts with mixed push and
//! pull times and tags, four rules and an immutable tag; the dry run's
//! list of what would go equals what the real run deletes, the rest stays,
//! immutable and unselected content is never touched, and the deletions
//! are audited. Also the API's shapes, roles and bounds.

mod common;

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

const EMPTY: &[u8] = b"{}";

fn digest_of(bytes: &[u8]) -> String {
    app::core::registry::digest::Digest::sha256_of(bytes).to_string()
}

/// Artifact `n` of a seeded repository: a distinct manifest on the empty config.
fn manifest(n: usize) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(EMPTY), "size": EMPTY.len()},
        "layers": [],
        "annotations": {"n": n.to_string()},
    })
    .to_string()
}

/// The tag of artifact `n`: releases, dev and nightly builds, and untagged ones.
fn tag(n: usize) -> Option<String> {
    match n % 5 {
        0 | 1 => Some(format!("v{n}")),
        2 => Some(format!("dev-{n}")),
        3 => Some(format!("nightly-{n}")),
        _ => None,
    }
}

fn selector(decoration: &str, pattern: &str, untagged: bool) -> Value {
    json!([{"kind": "doublestar", "decoration": decoration, "pattern": pattern, "extras": json!({"untagged": untagged}).to_string()}])
}

fn rule(template: &str, n: Option<i64>, tags: Value) -> Value {
    let params = n.map_or(json!({}), |n| json!({ template: n }));
    json!({
        "disabled": false, "action": "retain", "template": template, "params": params,
        "tag_selectors": tags,
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "app"}]},
    })
}

fn policy(project_id: i64, rules: Vec<Value>, cron: &str) -> Value {
    json!({
        "algorithm": "or", "rules": rules,
        "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
        "scope": {"level": "project", "ref": project_id},
    })
}

/// Runs the policy (dry or not) and waits for the execution to end; its tasks.
async fn run(server: &TestServer, policy: i64, dry_run: bool) -> Vec<Value> {
    let admin = common::admin_client();
    let base = server.url(&format!("/api/v2.0/retentions/{policy}/executions"));
    let started = admin.post(&base).json(&json!({ "dry_run": dry_run })).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let id: i64 = started.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    for _ in 0..600 {
        let executions: Vec<Value> = admin.get(&base).send().await.unwrap().json().await.unwrap();
        let execution = executions.iter().find(|e| e["id"] == id).expect("the execution is listed").clone();
        if !matches!(execution["status"].as_str(), Some("Pending" | "Running")) {
            assert_eq!(execution["status"], "Success", "{execution}");
            assert_eq!(execution["dry_run"], dry_run);
            return admin.get(format!("{base}/{id}/tasks")).send().await.unwrap().json().await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("retention execution {id} did not end in 60 s");
}

/// The digests a task's log lists after `verb` (`retained`, `would delete`, `deleted`).
async fn logged(server: &TestServer, policy: i64, task: &Value, verb: &str) -> BTreeSet<String> {
    let url =
        server.url(&format!("/api/v2.0/retentions/{policy}/executions/{}/tasks/{}", task["execution_id"], task["id"]));
    let log = common::admin_client().get(url).send().await.unwrap().text().await.unwrap();
    log.lines()
        .filter_map(|line| line.strip_prefix(&format!("{verb} ")))
        .map(|rest| rest.split([' ', ':']).take(2).collect::<Vec<_>>().join(":"))
        .collect()
}

async fn the_dry_run_lists_what_the_real_run_deletes(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    assert_eq!(common::push_blob(&admin, &server, "team/app", EMPTY).await, StatusCode::CREATED);
    let now = Utc::now();
    let mut digests = Vec::new();
    for n in 0..500 {
        let content = manifest(n);
        let digest = digest_of(content.as_bytes());
        let reference = tag(n).unwrap_or_else(|| digest.clone());
        let pushed = admin
            .put(server.url(&format!("/v2/team/app/manifests/{reference}")))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(content)
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), StatusCode::CREATED);
        // Artifact 0 is the newest; every fourth was pulled, some days ago.
        let pushed_at = now - Duration::hours(n as i64);
        let pulled_at = (n % 4 == 0).then(|| now - Duration::days((n % 10) as i64));
        app::on_db!(&server.state.db, pool => {
            sqlx::query("UPDATE manifests SET created_at = $1, pulled_at = $2 WHERE digest = $3")
                .bind(pushed_at)
                .bind(pulled_at)
                .bind(&digest)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .unwrap();
        digests.push(digest);
    }
    common::push_empty_image(&admin, &server, "team/keep", "old").await;
    let pinned = json!({
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v495"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    });
    let made = admin.post(server.url("/api/v2.0/projects/team/immutabletagrules")).json(&pinned).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);

    let team: Value = admin.get(server.url("/api/v2.0/projects/team")).send().await.unwrap().json().await.unwrap();
    let rules = vec![
        rule("latestPushedK", Some(10), selector("matches", "v*", false)),
        rule("nDaysSinceLastPull", Some(3), selector("matches", "**", false)),
        rule("always", None, selector("matches", "nightly-1*", false)),
        rule("latestPushedK", Some(5), selector("matches", "**", true)),
    ];
    let created = admin
        .post(server.url("/api/v2.0/retentions"))
        .json(&policy(team["project_id"].as_i64().unwrap(), rules, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());
    let id: i64 = created.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();

    // The dry run: one task, for team/app only; nothing deleted.
    let tasks = run(&server, id, true).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["repository"], "team/app");
    assert_eq!(tasks[0]["total"], 500);
    let kept = logged(&server, id, &tasks[0], "retained").await;
    let would = logged(&server, id, &tasks[0], "would delete").await;
    assert_eq!(kept.len() + would.len(), 500);
    assert_eq!(tasks[0]["retained"], kept.len());
    // What the rules say: the ten newest releases, the five newest of all
    // (untagged included), every nightly-1*, what was pulled in the last
    // three days, and the immutable v495.
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let releases: Vec<usize> = (0..500).filter(|n| n % 5 < 2).take(10).collect();
    expected.extend(releases.iter().map(|&n| digests[n].clone()));
    expected.extend((0..5).map(|n| digests[n].clone()));
    expected
        .extend((0..500).filter(|&n| tag(n).is_some_and(|t| t.starts_with("nightly-1"))).map(|n| digests[n].clone()));
    expected.extend((0..500).filter(|&n| n % 4 == 0 && n % 10 <= 3 && tag(n).is_some()).map(|n| digests[n].clone()));
    expected.insert(digests[495].clone());
    assert_eq!(kept, expected);
    let count: i64 = app::on_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = 'team/app'")
            .fetch_one(pool)
            .await
    })
    .unwrap();
    assert_eq!(count, 500, "a dry run deletes nothing");

    // The real run deletes exactly what the dry run listed.
    let tasks = run(&server, id, false).await;
    let deleted = logged(&server, id, &tasks[0], "deleted").await;
    assert_eq!(deleted, would);
    let remaining: BTreeSet<String> = app::on_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = 'team/app'")
            .fetch_all(pool)
            .await
    })
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(remaining, kept);
    let gone = admin
        .get(server.url(&format!("/v2/team/app/manifests/{}", would.iter().next().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let keep = admin.head(server.url("/v2/team/keep/manifests/old")).send().await.unwrap();
    assert_eq!(keep.status(), StatusCode::OK, "a repository no rule selects is left alone");
    let audited = common::audit_log(&server, "username=system:retention,operation=delete").await;
    assert_eq!(audited.len(), would.len().min(100), "each deletion is audited as retention's");
    // Nothing left to delete: a second run deletes nothing.
    let again = run(&server, id, false).await;
    assert_eq!(again[0]["total"], kept.len());
    assert_eq!(again[0]["retained"], kept.len());
    server.stop().await;
}

async fn the_api_as_harbor_has_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    server.add_members("team", &[("lima", 5), ("gail", 3), ("devi", 2), ("mia", 4)]).await;
    let client = common::member_client;
    let metadata: Value =
        client("gail").get(server.url("/api/v2.0/retentions/metadatas")).send().await.unwrap().json().await.unwrap();
    let templates: Vec<&str> =
        metadata["templates"].as_array().unwrap().iter().map(|t| t["rule_template"].as_str().unwrap()).collect();
    assert_eq!(templates, ["latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull", "always"]);

    let team: Value = admin.get(server.url("/api/v2.0/projects/team")).send().await.unwrap().json().await.unwrap();
    let project = team["project_id"].as_i64().unwrap();
    assert!(team["metadata"].get("retention_id").is_none());
    let body = policy(project, vec![rule("latestPushedK", Some(3), selector("matches", "**", true))], "0 0 3 * * *");
    // Maintainers manage the policy; developers may not.
    let refused = client("devi").post(server.url("/api/v2.0/retentions")).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let created = client("mia").post(server.url("/api/v2.0/retentions")).json(&body).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let again = admin.post(server.url("/api/v2.0/retentions")).json(&body).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT, "one policy per project");
    let team: Value = admin.get(server.url("/api/v2.0/projects/team")).send().await.unwrap().json().await.unwrap();
    assert_eq!(team["metadata"]["retention_id"], id.as_str());

    // Read back in Harbor's shape, by guests too; not by limited guests.
    let read = |user: &str| client(user).get(server.url(&location)).send();
    let shown: Value = read("gail").await.unwrap().json().await.unwrap();
    assert_eq!(shown["scope"], json!({"level": "project", "ref": project}));
    assert_eq!(shown["trigger"]["settings"]["cron"], "0 0 3 * * *");
    assert_eq!(shown["rules"][0]["template"], "latestPushedK");
    assert_eq!(shown["rules"][0]["params"], json!({"latestPushedK": 3}));
    assert_eq!(shown["rules"][0]["tag_selectors"][0]["extras"], r#"{"untagged":true}"#);
    assert_eq!(shown["rules"][0]["scope_selectors"]["repository"][0]["decoration"], "repoMatches");
    assert_eq!(read("lima").await.unwrap().status(), StatusCode::FORBIDDEN);

    // Harbor's `extras.untagged` with `excludes` says untagged artifacts are
    // excluded too (so not candidates); without extras they are candidates.
    let candidates = || async {
        let policy = server.state.retention.policy_for(&server.admin_actor().await, "team").await.unwrap().unwrap();
        policy.rules.iter().map(|rule| rule.untagged).collect::<Vec<bool>>()
    };
    let excluding = selector("excludes", "nightly-*", true);
    let unflagged = json!([{"kind": "doublestar", "decoration": "excludes", "pattern": "tmp-*"}]);
    let rules = vec![
        rule("latestPushedK", Some(3), excluding.clone()),
        rule("latestPushedK", Some(3), selector("excludes", "dev-*", false)),
        rule("latestPushedK", Some(3), unflagged),
        rule("latestPushedK", Some(3), selector("matches", "v*", false)),
    ];
    let changed = client("mia").put(server.url(&location)).json(&policy(project, rules, "")).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK, "{}", changed.text().await.unwrap());
    assert_eq!(candidates().await, [false, true, true, false]);
    let shown: Value = read("gail").await.unwrap().json().await.unwrap();
    let read_back = &shown["rules"][0]["tag_selectors"][0];
    assert_eq!((&read_back["decoration"], &read_back["extras"]), (&json!("excludes"), &json!(r#"{"untagged":true}"#)));
    assert_eq!(shown["rules"][2]["tag_selectors"][0]["extras"], r#"{"untagged":false}"#);
    let restore = policy(project, vec![rule("latestPushedK", Some(3), selector("matches", "**", true))], "0 0 3 * * *");
    let restored = client("mia").put(server.url(&location)).json(&restore).send().await.unwrap();
    assert_eq!(restored.status(), StatusCode::OK);
    // Scheduled: the job service holds the schedule.
    let schedules: Vec<Value> =
        admin.get(server.url("/api/v2.0/schedules")).send().await.unwrap().json().await.unwrap();
    assert!(
        schedules.iter().any(|s| s["vendor_type"] == "RETENTION"
            && s["vendor_id"] == id.parse::<i64>().unwrap()
            && s["cron"] == "0 0 3 * * *"),
        "{schedules:?}"
    );

    // Bad policies are refused, naming what is wrong.
    let too_many: Vec<Value> = (0..16).map(|_| rule("always", None, selector("matches", "**", false))).collect();
    let bad = [
        (policy(project, vec![rule("latestPushedK", None, selector("matches", "**", false))], ""), "rules"),
        (policy(project, vec![rule("latestPushedK", Some(0), selector("matches", "**", false))], ""), "rules"),
        (policy(project, vec![rule("nothing", None, selector("matches", "**", false))], ""), "rules"),
        (
            policy(project, vec![rule("always", None, selector("repoMatches", "**", false))], ""),
            "rules[0].tag_selectors",
        ),
        (policy(project, vec![rule("always", None, selector("matches", "{a", false))], ""), "rules"),
        (policy(project, too_many, ""), "rules"),
        (policy(project, vec![], "every day"), "trigger"),
    ];
    for (body, field) in bad {
        let refused = admin.put(server.url(&location)).json(&body).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert!(error["errors"][0]["message"].as_str().unwrap().starts_with(field), "{error}");
    }
    let fifteen: Vec<Value> = (0..15).map(|_| rule("always", None, selector("matches", "**", false))).collect();
    assert_eq!(
        admin.put(server.url(&location)).json(&policy(project, fifteen, "")).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Runs: maintainers start them, guests read them; an execution of
    // another policy is not found here.
    let runs = server.url(&format!("{location}/executions"));
    assert_eq!(
        client("gail").post(&runs).json(&json!({"dry_run": true})).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        client("mia").post(&runs).json(&json!({"dry_run": true})).send().await.unwrap().status(),
        StatusCode::CREATED
    );
    let listed = client("gail").get(&runs).send().await.unwrap();
    assert_eq!(listed.headers()["x-total-count"], "1");
    let missing = admin.get(server.url(&format!("{location}/executions/999999/tasks"))).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let stop = admin
        .patch(server.url(&format!("{location}/executions/999999")))
        .json(&json!({"action": "stop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), StatusCode::NOT_FOUND);

    // Deleted: gone, with its schedule.
    assert_eq!(client("devi").delete(server.url(&location)).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(admin.delete(server.url(&location)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(admin.get(server.url(&location)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let changes: Vec<String> = common::audit_log(&server, "resource_type=retention_policy")
        .await
        .iter()
        .map(|entry| entry["operation"].as_str().unwrap().to_owned())
        .collect();
    // Created, changed twice by the extras check above, changed again, deleted.
    assert_eq!(changes, ["delete", "update", "update", "update", "create"]);
    server.stop().await;
}

/// The portal edits one rule at a time against the version it read: an
/// edit made from a stale read is refused and changes nothing.
async fn edits_from_a_stale_read_are_refused(backend: Backend) {
    use app::core::{
        Error,
        retention::{PolicyEdit, RetentionRule, Template},
        selectors::Selector,
    };
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = server.admin_actor().await;
    let retention = &server.state.retention;
    let rule = |n| RetentionRule {
        disabled: false,
        template: Template::LatestPushed(n),
        repositories: Selector::everything(),
        tags: Selector::everything(),
        untagged: true,
    };
    retention.edit(&admin, "team", None, PolicyEdit::PutRule(None, rule(1))).await.unwrap();
    let first = retention.policy_for(&admin, "team").await.unwrap().unwrap();
    // Someone else, who also saw no policy, adds a rule: refused.
    let late = retention.edit(&admin, "team", None, PolicyEdit::PutRule(None, rule(2))).await;
    assert!(matches!(late, Err(Error::Conflict(_))), "{late:?}");
    retention.edit(&admin, "team", Some(first.version), PolicyEdit::PutRule(None, rule(3))).await.unwrap();
    // An edit from the first read is now stale.
    let stale = retention.edit(&admin, "team", Some(first.version), PolicyEdit::RemoveRule(0)).await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "{stale:?}");
    let now = retention.policy_for(&admin, "team").await.unwrap().unwrap();
    assert_eq!(now.rules, [rule(1), rule(3)]);
    retention.edit(&admin, "team", Some(now.version), PolicyEdit::Schedule(Some("0 0 3 * * *".into()))).await.unwrap();
    let scheduled = retention.policy_for(&admin, "team").await.unwrap().unwrap();
    assert_eq!(scheduled.cron.as_deref(), Some("0 0 3 * * *"));
    let gone = retention.edit(&admin, "team", Some(scheduled.version), PolicyEdit::RemoveRule(5)).await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    server.stop().await;
}

/// Retention decides from a read and deletes afterwards: an artifact
/// pushed again (a tag moved onto it) after the decision is kept, and the
/// tag with it.
async fn what_was_pushed_after_the_decision_stays(backend: Backend) {
    use app::core::{
        rbac::Action,
        registry::{self, digest::Digest, names::RepoName},
    };
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin_client = common::admin_client();
    let (old, _) = common::push_image(&admin_client, &server, "team/app", "v1", b"old layer").await;
    common::push_image(&admin_client, &server, "team/app", "v2", b"new layer").await;
    let admin = server.admin_actor().await;
    let grant = server.state.access.require(&admin, "team", Action::DeleteArtifact).await.unwrap();
    let repository = RepoName::parse("team/app", "").unwrap();
    let digest: Digest = old.parse().unwrap();
    let decided_at = Utc::now();
    // A CI job promotes the old build after the decision.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let content = admin_client
        .get(server.url(&format!("/v2/team/app/manifests/{old}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let promoted = admin_client
        .put(server.url("/v2/team/app/manifests/prod"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(content)
        .send()
        .await
        .unwrap();
    assert_eq!(promoted.status(), StatusCode::CREATED);
    let digests = [digest];
    let registry = &server.state.registry;
    let refused = registry.delete_manifests_unchanged(&repository, &digests, decided_at, &grant).await.unwrap();
    assert!(matches!(refused[..], [Err(registry::Error::ChangedMeanwhile)]), "{refused:?}");
    let prod = admin_client.head(server.url("/v2/team/app/manifests/prod")).send().await.unwrap();
    assert_eq!(prod.status(), StatusCode::OK, "the promoted tag stays");
    // Decided after the push, it goes.
    let deleted = registry.delete_manifests_unchanged(&repository, &digests, Utc::now(), &grant).await.unwrap();
    assert!(matches!(deleted[..], [Ok(())]), "{deleted:?}");
    let gone = admin_client.head(server.url("/v2/team/app/manifests/prod")).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

/// Retention deletes in batches, one transaction each: within one, every
/// artifact is decided as it would be alone — immutable stays, pushed again
/// since the decision stays, already gone is reported, the rest go, each
/// with its own audit row.
async fn one_batch_decides_each_artifact_as_alone(backend: Backend) {
    use app::core::{
        rbac::Action,
        registry::{self, digest::Digest, names::RepoName},
    };
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let pinned = json!({
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "keep-*"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    });
    let made = client.post(server.url("/api/v2.0/projects/team/immutabletagrules")).json(&pinned).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let (kept, _) = common::push_image(&client, &server, "team/app", "keep-1", b"pinned layer").await;
    let (plain, _) = common::push_image(&client, &server, "team/app", "v1", b"plain layer").await;
    let (promoted, _) = common::push_image(&client, &server, "team/app", "v2", b"promoted layer").await;
    let decided_at = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let url = server.url(&format!("/v2/team/app/manifests/{promoted}"));
    let content = client.get(url).header("accept", accept).send().await.unwrap().bytes().await.unwrap();
    let put = client.put(server.url("/v2/team/app/manifests/prod")).header("content-type", accept).body(content);
    assert_eq!(put.send().await.unwrap().status(), StatusCode::CREATED);

    let admin = server.admin_actor().await;
    let grant = server.state.access.require(&admin, "team", Action::DeleteArtifact).await.unwrap();
    let repository = RepoName::parse("team/app", "").unwrap();
    let missing = format!("sha256:{}", "0".repeat(64));
    let digests: Vec<Digest> = [&kept, &plain, &promoted, &missing].iter().map(|d| d.parse().unwrap()).collect();
    let outcomes =
        server.state.registry.delete_manifests_unchanged(&repository, &digests, decided_at, &grant).await.unwrap();
    assert!(
        matches!(
            outcomes[..],
            [
                Err(registry::Error::Immutable(_)),
                Ok(()),
                Err(registry::Error::ChangedMeanwhile),
                Err(registry::Error::ManifestUnknown)
            ]
        ),
        "{outcomes:?}"
    );
    for (reference, status) in
        [("keep-1", StatusCode::OK), ("v1", StatusCode::NOT_FOUND), ("prod", StatusCode::OK), ("v2", StatusCode::OK)]
    {
        let head = client.head(server.url(&format!("/v2/team/app/manifests/{reference}"))).send().await.unwrap();
        assert_eq!(head.status(), status, "{reference}");
    }
    let deletes = common::audit_log(&server, "operation=delete").await;
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0]["resource"], format!("team/app@{plain}"));
    server.stop().await;
}

/// A deleted project takes its retention policy and the policy's schedule along.
async fn a_deleted_projects_schedule_goes_with_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["gone"]).await;
    let admin = common::admin_client();
    let project: Value = admin.get(server.url("/api/v2.0/projects/gone")).send().await.unwrap().json().await.unwrap();
    let body = policy(
        project["project_id"].as_i64().unwrap(),
        vec![rule("always", None, selector("matches", "**", true))],
        "0 0 3 * * *",
    );
    let created = admin.post(server.url("/api/v2.0/retentions")).json(&body).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let retention_schedules = || async {
        let schedules: Vec<Value> =
            admin.get(server.url("/api/v2.0/schedules")).send().await.unwrap().json().await.unwrap();
        schedules.into_iter().filter(|s| s["vendor_type"] == "RETENTION").count()
    };
    assert_eq!(retention_schedules().await, 1);
    assert_eq!(admin.delete(server.url("/api/v2.0/projects/gone")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(retention_schedules().await, 0);
    assert_eq!(admin.get(server.url(&location)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

on_both_databases!(
    a_deleted_projects_schedule_goes_with_it,
    what_was_pushed_after_the_decision_stays,
    the_dry_run_lists_what_the_real_run_deletes,
    the_api_as_harbor_has_it,
    edits_from_a_stale_read_are_refused,
    one_batch_decides_each_artifact_as_alone,
);
