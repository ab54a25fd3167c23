//! The job service on SQLite and PostgreSQL, with several runners standing
//! in for nodes that share the database: one schedule tick makes one
//! execution however many runners look, and a tick that comes while the
//! previous run is under way is recorded as skipped; a node that dies leaves an
//! execution that ends as Error, not Running; a stop request reaches the
//! node running the job; queued work waits for a runner; the built-in
//! cleanup jobs run with a history and a log; bad schedules are refused.

mod common;

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use app::core::{
    Error,
    db::Window,
    identity::{Actor, Principal},
    jobs::{Execution, Job, JobContext, JobRun, Runner, RunnerSettings, Status, UploadCleanup},
};
use common::{Backend, TestServer};
use serde_json::{Value, json};

const FAST: RunnerSettings =
    RunnerSettings { poll: Duration::from_millis(100), lease: Duration::from_millis(900), concurrency: 4 };

/// Counts its runs.
struct Counting(Arc<AtomicUsize>);

impl Job for Counting {
    fn kind(&self) -> &'static str {
        "test_counting"
    }

    fn run<'a>(&'a self, context: &'a JobContext, _parameters: &'a Value) -> JobRun<'a> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            context.log("counted").await?;
            Ok(json!({ "counted": 1 }))
        })
    }
}

/// Works in 50 ms steps for `steps` steps, checking for a stop between them.
struct Slow;

impl Job for Slow {
    fn kind(&self) -> &'static str {
        "test_slow"
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Box::pin(async move {
            let steps = parameters["steps"].as_i64().unwrap_or(100);
            for step in 0..steps {
                context.check_stop()?;
                context.progress(step, Some(steps)).await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            context.log(format!("did {steps} steps")).await?;
            Ok(json!({ "steps": steps }))
        })
    }
}

fn runner(server: &TestServer, jobs: Vec<Arc<dyn Job>>) -> Runner {
    server.state.jobs.start_runner(jobs, FAST)
}

async fn execution(server: &TestServer, admin: &Actor, id: i64) -> Execution {
    server.state.jobs.execution(admin, id).await.unwrap()
}

/// Waits until execution `id` satisfies `done`, failing after ten seconds.
async fn wait_for(server: &TestServer, admin: &Actor, id: i64, done: impl Fn(&Execution) -> bool) -> Execution {
    for _ in 0..200 {
        let current = execution(server, admin, id).await;
        if done(&current) {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} never got there: {:?}", execution(server, admin, id).await);
}

async fn one_tick_makes_one_execution_across_nodes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let nodes: Vec<Runner> =
        (0..3).map(|_| runner(&server, vec![Arc::new(Counting(runs.clone())) as Arc<dyn Job>])).collect();
    server.state.jobs.set_schedule(&admin, "test_counting", Some("* * * * * *"), json!({})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    server.state.jobs.set_schedule(&admin, "test_counting", None, json!({})).await.unwrap();
    // Let what was queued before the schedule went finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for node in nodes {
        node.shut_down().await;
    }
    let executions = server.state.jobs.executions(&admin, "test_counting", Window::new(0, 100)).await.unwrap();
    let ticks: HashSet<_> = executions.items.iter().map(|e| e.scheduled_for.expect("a scheduled run")).collect();
    assert!(executions.items.len() >= 2, "a schedule every second made {} runs in 3.5 s", executions.items.len());
    assert_eq!(ticks.len(), executions.items.len(), "one execution per tick: {:?}", executions.items);
    assert!(executions.items.iter().all(|e| e.status == Status::Success), "{:?}", executions.items);
    assert_eq!(runs.load(Ordering::SeqCst), executions.items.len(), "each execution ran once, on one node");
    let log = server.state.jobs.log(&admin, executions.items[0].id).await.unwrap();
    assert_eq!(log.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(), ["counted"]);
    server.stop().await;
}

async fn a_tick_during_a_run_is_skipped(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let node = runner(&server, vec![Arc::new(Slow)]);
    // Each run takes 3 s; the schedule ticks every second.
    server.state.jobs.set_schedule(&admin, "test_slow", Some("* * * * * *"), json!({ "steps": 60 })).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.state.jobs.set_schedule(&admin, "test_slow", None, json!({})).await.unwrap();
    let executions = server.state.jobs.executions(&admin, "test_slow", Window::new(0, 100)).await.unwrap().items;
    let (skipped, ran): (Vec<_>, Vec<_>) = executions.into_iter().partition(|e| e.status == Status::Skipped);
    assert_eq!(ran.len(), 1, "one run at a time, nothing queued behind it: {ran:?}");
    let first = &ran[0];
    assert!(!skipped.is_empty(), "ticks came during the run");
    for tick in &skipped {
        assert!(tick.scheduled_for.is_some() && tick.ended_at.is_some() && tick.started_at.is_none(), "{tick:?}");
        assert_eq!(
            tick.error.as_deref(),
            Some(format!("skipped: execution {} was still in progress at this tick", first.id).as_str())
        );
        assert!(tick.scheduled_for > first.scheduled_for, "{tick:?}");
    }
    let done = wait_for(&server, &admin, first.id, |e| e.status.is_final()).await;
    assert_eq!(done.status, Status::Success, "the run under way was not disturbed: {done:?}");
    node.shut_down().await;
    server.stop().await;
}

async fn a_dead_nodes_execution_ends_as_error(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let id = server.state.jobs.run_now(&admin, "test_slow", json!({ "steps": 1000 })).await.unwrap();
    // Queued work waits for a runner that knows its kind.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(execution(&server, &admin, id).await.status, Status::Pending);
    let doomed = runner(&server, vec![Arc::new(Slow)]);
    wait_for(&server, &admin, id, |e| e.status == Status::Running && e.progress_done > 0).await;
    // The node dies: it stops renewing, and another node ends the execution.
    doomed.shut_down().await;
    let survivor = runner(&server, vec![]);
    let ended = wait_for(&server, &admin, id, |e| e.status.is_final()).await;
    assert_eq!(ended.status, Status::Error, "{ended:?}");
    assert!(ended.error.as_deref().unwrap_or_default().contains("lease"), "{ended:?}");
    assert!(ended.ended_at.is_some());
    // The kind is free again: the next run completes.
    let next = server.state.jobs.run_now(&admin, "test_slow", json!({ "steps": 2 })).await.unwrap();
    let worker = runner(&server, vec![Arc::new(Slow)]);
    let done = wait_for(&server, &admin, next, |e| e.status.is_final()).await;
    assert_eq!((done.status, done.summary), (Status::Success, Some(json!({ "steps": 2 }))));
    worker.shut_down().await;
    survivor.shut_down().await;
    server.stop().await;
}

async fn a_stop_request_reaches_the_running_node(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let nodes = [runner(&server, vec![Arc::new(Slow)]), runner(&server, vec![Arc::new(Slow)])];
    let id = server.state.jobs.run_now(&admin, "test_slow", json!({ "steps": 1000 })).await.unwrap();
    wait_for(&server, &admin, id, |e| e.status == Status::Running).await;
    // Only one execution of a kind runs at a time: the second waits.
    let queued = server.state.jobs.run_now(&admin, "test_slow", json!({ "steps": 1000 })).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(execution(&server, &admin, queued).await.status, Status::Pending);
    server.state.jobs.stop(&admin, queued).await.unwrap();
    assert_eq!(execution(&server, &admin, queued).await.status, Status::Stopped, "a pending run stops at once");
    server.state.jobs.stop(&admin, id).await.unwrap();
    let stopped = wait_for(&server, &admin, id, |e| e.status.is_final()).await;
    assert_eq!(stopped.status, Status::Stopped, "{stopped:?}");
    assert!(stopped.progress_done < 999, "it stopped early: {stopped:?}");
    let again = server.state.jobs.stop(&admin, id).await.unwrap_err();
    assert!(matches!(again, Error::Conflict(_)), "{again:?}");
    for node in nodes {
        node.shut_down().await;
    }
    server.stop().await;
}

async fn cleanup_runs_as_a_job_with_history(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    // The server's own runner has the built-in kinds and their schedules.
    let schedule = server.state.jobs.schedule(&admin, UploadCleanup::KIND).await.unwrap().expect("scheduled at start");
    assert_eq!(schedule.cron, "0 0 * * * *");
    let id = server.state.jobs.run_now(&admin, UploadCleanup::KIND, schedule.parameters).await.unwrap();
    let done = wait_for(&server, &admin, id, |e| e.status.is_final()).await;
    assert_eq!(done.status, Status::Success, "{done:?}");
    assert_eq!(done.summary.as_ref().unwrap()["uploads"], 0);
    let log = server.state.jobs.log(&admin, id).await.unwrap();
    assert!(log.iter().any(|l| l.message.starts_with("removed 0 uploads")), "{log:?}");
    server.stop().await;
}

async fn schedules_and_history_are_for_administrators(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let user: Actor = Principal::User(server.create_user("plain", "Plain-Passw0rd").await).into();
    let refused = server.state.jobs.run_now(&user, UploadCleanup::KIND, json!({})).await.unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    let refused = server.state.jobs.executions(&user, UploadCleanup::KIND, Window::new(0, 10)).await.unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    for bad in ["0 0 * * *", "0 0 25 * * *", "sometimes", ""] {
        let refused = server.state.jobs.set_schedule(&admin, "test_counting", Some(bad), json!({})).await.unwrap_err();
        assert!(matches!(refused, Error::Invalid { field: "cron", .. }), "{bad:?}: {refused:?}");
    }
    assert!(server.state.jobs.schedule(&admin, "test_counting").await.unwrap().is_none(), "a refusal stores nothing");
    let weekly = server.state.jobs.set_schedule(&admin, "test_counting", Some("weekly"), json!({})).await.unwrap();
    assert_eq!(weekly.unwrap().cron, "0 0 0 * * 0");
    server.stop().await;
}

/// A slow job under another kind's name.
struct SlowToo;

impl Job for SlowToo {
    fn kind(&self) -> &'static str {
        "test_slow_too"
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Slow.run(context, parameters)
    }
}

/// One node runs executions of different kinds side by side (one of each
/// kind at a time), says what it runs, and holds a paused kind's work.
async fn a_node_runs_kinds_side_by_side_and_says_so(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let node = runner(&server, vec![Arc::new(Slow), Arc::new(SlowToo)]);
    server.state.jobs.set_paused(&admin, "test_slow_too", true).await.unwrap();
    let first = server.state.jobs.run_now(&admin, "test_slow", json!({ "steps": 40 })).await.unwrap();
    let second = server.state.jobs.run_now(&admin, "test_slow", json!({ "steps": 2 })).await.unwrap();
    let other = server.state.jobs.run_now(&admin, "test_slow_too", json!({ "steps": 40 })).await.unwrap();
    wait_for(&server, &admin, first, |e| e.status == Status::Running).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(execution(&server, &admin, other).await.status, Status::Pending, "its queue is paused");
    assert_eq!(execution(&server, &admin, second).await.status, Status::Pending, "one of a kind at a time");
    server.state.jobs.set_paused(&admin, "test_slow_too", false).await.unwrap();
    wait_for(&server, &admin, other, |e| e.status == Status::Running).await;
    assert_eq!(execution(&server, &admin, first).await.status, Status::Running, "both run at once");
    let nodes = server.state.jobs.nodes(&admin).await.unwrap();
    let this = nodes.iter().find(|n| n.node == node.node()).expect("the runner's node is listed");
    let mut running: Vec<i64> = this.running.iter().map(|r| r.id).collect();
    running.sort();
    assert_eq!(running, [first, other], "{nodes:?}");
    let queues = server.state.jobs.queues(&admin, &["test_slow"]).await.unwrap();
    assert_eq!((queues[0].kind.as_str(), queues[0].pending, queues[0].paused), ("test_slow", 1, false));
    for id in [first, second, other] {
        assert_eq!(wait_for(&server, &admin, id, |e| e.status.is_final()).await.status, Status::Success);
    }
    node.shut_down().await;
    server.stop().await;
}

on_both_databases!(
    a_node_runs_kinds_side_by_side_and_says_so,
    one_tick_makes_one_execution_across_nodes,
    a_tick_during_a_run_is_skipped,
    a_dead_nodes_execution_ends_as_error,
    a_stop_request_reaches_the_running_node,
    cleanup_runs_as_a_job_with_history,
    schedules_and_history_are_for_administrators,
);
