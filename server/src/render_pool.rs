//! Where the portal renders: a few dedicated threads, apart from the runtime
//! workers that serve `/v2`, the token service and REST.
//!
//! Why threads of its own. Leptos' reactive owners (`reactive_graph` 0.2)
//! are shared between a render and the tasks its resources spawn. When one
//! thread drops the last handle to an owner while another thread's render
//! walks through that owner looking for a context, the walking thread ends up
//! running the owner's cleanup while it still holds a lock that cleanup needs,
//! and blocks forever. Here a render and every task it spawns run on one
//! thread (a `LocalSet` on a render thread, see [`install_executor`]), so no
//! owner of a render is ever touched by two threads and that race cannot
//! happen. The threads drive their futures with the main runtime's handle,
//! so sockets and timers opened during a render belong to the main runtime's
//! drivers and keep working if a render thread stops.
//!
//! And if a render stalls anyway, it costs only the portal: each render has a
//! time limit; a thread that stops making progress is reported (a log line
//! naming its pages, a metric, the `portal` health component) and replaced,
//! up to a bound.
//!
//! Calls go one way: the portal's middleware hands a request's work to
//! [`RenderPool::render`]; the threads know nothing of routing.

mod executor;
mod relay;

use std::{
    collections::HashMap,
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use futures_util::FutureExt;
use http_body::Body as _;
use prometheus::{IntCounter, IntGauge, Registry};
use tokio::{
    runtime::Handle,
    sync::{mpsc, oneshot},
    task::LocalSet,
};

use app::core::system::ComponentStatus;
pub use executor::install_executor;
use relay::{RelayedBody, relay};

/// How often a render thread says it is alive.
const HEARTBEAT: Duration = Duration::from_millis(250);
/// A thread with renders in flight that has not said so for this long is stuck.
const STUCK_AFTER: Duration = Duration::from_secs(10);
/// How often the watchdog looks at the threads.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// Renders one thread takes at once; past that (on every thread) a page
/// answers 503 at once instead of queueing work nobody may wait for.
const MAX_RENDERS_PER_THREAD: usize = 128;
/// Body pieces buffered between a render thread and the client's connection.
const PIECES_BUFFERED: usize = 8;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The portal's render threads; cloning shares them.
#[derive(Clone)]
pub struct RenderPool {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Handle,
    /// Threads wanted when none is stuck.
    wanted: usize,
    /// Threads at most, counting stuck ones that never came back.
    max: usize,
    limit: Duration,
    epoch: Instant,
    threads: Mutex<Vec<RenderThread>>,
    metrics: PoolMetrics,
}

struct RenderThread {
    jobs: mpsc::UnboundedSender<Job>,
    status: Arc<ThreadStatus>,
}

/// What the watchdog and the dispatcher know of one thread.
struct ThreadStatus {
    name: String,
    /// Milliseconds since the pool's epoch at the last heartbeat.
    heartbeat: AtomicU64,
    stuck: AtomicBool,
    next_render: AtomicU64,
    /// Renders handed to this thread and not finished: page and start.
    in_flight: Mutex<HashMap<u64, (String, Instant)>>,
}

#[derive(Clone)]
struct PoolMetrics {
    in_flight: IntGauge,
    threads: IntGauge,
    stuck: IntGauge,
    cut_off: IntCounter,
}

impl PoolMetrics {
    fn register(registry: &Registry) -> Self {
        let metrics = Self {
            in_flight: IntGauge::new("berth_portal_renders_in_flight", "Portal renders in progress")
                .expect("metric definition is valid"),
            threads: IntGauge::new("berth_portal_render_threads", "Portal render threads, stuck ones included")
                .expect("metric definition is valid"),
            stuck: IntGauge::new(
                "berth_portal_render_threads_stuck",
                "Portal render threads that stopped making progress",
            )
            .expect("metric definition is valid"),
            cut_off: IntCounter::new(
                "berth_portal_renders_cut_off_total",
                "Portal renders stopped at their time limit",
            )
            .expect("metric definition is valid"),
        };
        for metric in [
            Box::new(metrics.in_flight.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.threads.clone()),
            Box::new(metrics.stuck.clone()),
            Box::new(metrics.cut_off.clone()),
        ] {
            registry.register(metric).expect("metric registered once");
        }
        metrics
    }
}

impl RenderPool {
    /// Starts `threads` render threads (at least one) whose renders may take
    /// up to `limit` each, and the watchdog that looks after them. Must be
    /// called inside the runtime whose drivers the threads will use.
    pub fn start(threads: usize, limit: Duration, registry: &Registry) -> Self {
        let wanted = threads.max(1);
        let inner = Arc::new(Inner {
            runtime: Handle::current(),
            wanted,
            max: wanted * 2 + 2,
            limit,
            epoch: Instant::now(),
            threads: Mutex::new(Vec::new()),
            metrics: PoolMetrics::register(registry),
        });
        {
            let mut threads = inner.lock_threads();
            for _ in 0..wanted {
                inner.add_thread(&mut threads);
            }
        }
        tokio::spawn(watch(Arc::downgrade(&inner)));
        Self { inner }
    }

    /// Runs `work` (a request's whole handling) on a render thread and gives
    /// back its response, whose body the thread goes on producing. A render
    /// past the time limit answers 503, or has its body cut off; a client
    /// that hangs up stops the render.
    pub async fn render<F>(&self, page: String, work: F) -> Response
    where
        F: Future<Output = Response> + Send + 'static,
    {
        let Some((jobs, guard)) = self.inner.dispatch(&page) else {
            tracing::warn!(page, "no portal render thread can take a page now: all are stuck or full");
            return unavailable();
        };
        let (mut head_tx, head_rx) = oneshot::channel();
        let (limit, cut_off) = (self.inner.limit, self.inner.metrics.cut_off.clone());
        // Counted from now, not from when the thread gets to it: time spent
        // queued behind other renders is part of the client's wait.
        let deadline = tokio::time::Instant::now() + limit;
        let job = async move {
            let _in_flight = guard;
            let rendered = async {
                tokio::select! {
                    rendered = tokio::time::timeout_at(deadline, AssertUnwindSafe(work).catch_unwind()) => Some(rendered),
                    // The client hung up before the headers: nobody waits for this render.
                    () = head_tx.closed() => None,
                }
            };
            let response = match rendered.await {
                None => return,
                Some(Ok(Ok(response))) => response,
                Some(Ok(Err(_))) => {
                    tracing::error!(page, "a portal render panicked");
                    let _ = head_tx.send(StatusCode::INTERNAL_SERVER_ERROR.into_response());
                    return;
                }
                Some(Err(_)) => {
                    cut_off.inc();
                    tracing::warn!(page, limit_seconds = limit.as_secs(), "portal render stopped at its time limit");
                    let _ = head_tx.send(unavailable());
                    return;
                }
            };
            let (parts, body) = response.into_parts();
            let (pieces_tx, pieces_rx) = mpsc::channel(PIECES_BUFFERED);
            // The client's side gives up a little after the render's own limit,
            // in case this thread stops while streaming.
            let relayed = RelayedBody::new(pieces_rx, body.size_hint(), deadline + STUCK_AFTER);
            if head_tx.send(Response::from_parts(parts, Body::new(relayed))).is_err() {
                return; // the client hung up
            }
            match tokio::time::timeout_at(deadline, AssertUnwindSafe(relay(body, &pieces_tx)).catch_unwind()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => tracing::error!(page, "a portal render panicked while streaming"),
                Err(_) => {
                    cut_off.inc();
                    tracing::warn!(page, limit_seconds = limit.as_secs(), "portal render cut off at its time limit");
                }
            }
        };
        if jobs.send(Box::pin(job)).is_err() {
            return unavailable();
        }
        // The thread answers within the limit unless it is stuck.
        match tokio::time::timeout_at(deadline + STUCK_AFTER, head_rx).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) | Err(_) => unavailable(),
        }
    }

    /// The `portal` component of the health report.
    pub fn health(&self) -> ComponentStatus {
        let stuck = self.inner.lock_threads().iter().filter(|t| t.status.stuck.load(Ordering::Relaxed)).count();
        match stuck {
            0 => ComponentStatus::Healthy,
            n => ComponentStatus::Unhealthy(format!("{n} portal render thread(s) stuck")),
        }
    }
}

impl Inner {
    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Vec<RenderThread>> {
        // A panic while holding this lock leaves the list itself intact.
        self.threads.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The least busy thread that is not stuck, with the page registered on it.
    fn dispatch(self: &Arc<Self>, page: &str) -> Option<(mpsc::UnboundedSender<Job>, InFlight)> {
        let threads = self.lock_threads();
        let thread = threads
            .iter()
            .filter(|t| !t.status.stuck.load(Ordering::Relaxed))
            .map(|t| (t, t.status.lock_in_flight().len()))
            .filter(|(_, busy)| *busy < MAX_RENDERS_PER_THREAD)
            .min_by_key(|(_, busy)| *busy)
            .map(|(t, _)| t)?;
        let id = thread.status.next_render.fetch_add(1, Ordering::Relaxed);
        thread.status.lock_in_flight().insert(id, (page.to_owned(), Instant::now()));
        self.metrics.in_flight.inc();
        let guard = InFlight { status: thread.status.clone(), id, gauge: self.metrics.in_flight.clone() };
        Some((thread.jobs.clone(), guard))
    }

    fn add_thread(self: &Arc<Self>, threads: &mut Vec<RenderThread>) {
        let name = format!("berth-render-{}", threads.len());
        let status = Arc::new(ThreadStatus {
            name: name.clone(),
            heartbeat: AtomicU64::new(self.now_ms()),
            stuck: AtomicBool::new(false),
            next_render: AtomicU64::new(0),
            in_flight: Mutex::new(HashMap::new()),
        });
        let (jobs, receiver) = mpsc::unbounded_channel();
        let runtime = self.runtime.clone();
        let (thread_status, epoch) = (status.clone(), self.epoch);
        let spawned = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || run_render_thread(runtime, receiver, thread_status, epoch));
        match spawned {
            Ok(_) => {
                threads.push(RenderThread { jobs, status });
                self.metrics.threads.set(threads.len() as i64);
            }
            Err(error) => tracing::error!(%error, thread = name, "cannot start a portal render thread"),
        }
    }

    /// Marks threads stuck or recovered, and starts replacements for stuck ones.
    fn check(self: &Arc<Self>) {
        let now = self.now_ms();
        let mut threads = self.lock_threads();
        for thread in threads.iter() {
            let status = &thread.status;
            let silent = Duration::from_millis(now.saturating_sub(status.heartbeat.load(Ordering::Relaxed)));
            let stuck = silent >= STUCK_AFTER && !status.lock_in_flight().is_empty();
            if stuck && !status.stuck.swap(true, Ordering::Relaxed) {
                self.metrics.stuck.inc();
                // Named only when reported: the watchdog runs every second.
                let pages: Vec<String> = status
                    .lock_in_flight()
                    .values()
                    .map(|(page, started)| format!("{page} ({} s)", started.elapsed().as_secs()))
                    .collect();
                tracing::error!(
                    thread = status.name,
                    silent_seconds = silent.as_secs(),
                    pages = pages.join(", "),
                    "a portal render thread is stuck: its renders are lost, new ones go to other threads"
                );
            } else if !stuck && status.stuck.load(Ordering::Relaxed) && silent < STUCK_AFTER {
                status.stuck.store(false, Ordering::Relaxed);
                self.metrics.stuck.dec();
                tracing::info!(thread = status.name, "a stuck portal render thread is making progress again");
            }
        }
        let healthy = threads.iter().filter(|t| !t.status.stuck.load(Ordering::Relaxed)).count();
        for _ in healthy..self.wanted {
            if threads.len() >= self.max {
                break;
            }
            self.add_thread(&mut threads);
        }
    }
}

impl ThreadStatus {
    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (String, Instant)>> {
        self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A render registered on a thread; dropping it (done or abandoned) unregisters it.
struct InFlight {
    status: Arc<ThreadStatus>,
    id: u64,
    gauge: IntGauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.status.lock_in_flight().remove(&self.id);
        self.gauge.dec();
    }
}

/// A render thread: runs each job as a task of its own on this thread, until
/// the pool is gone, then lets the renders in progress finish.
fn run_render_thread(
    runtime: Handle,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    status: Arc<ThreadStatus>,
    epoch: Instant,
) {
    executor::mark_render_thread();
    let renders = LocalSet::new();
    runtime.block_on(renders.run_until(async move {
        let heartbeat = tokio::task::spawn_local(async move {
            let mut ticks = tokio::time::interval(HEARTBEAT);
            loop {
                ticks.tick().await;
                let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                status.heartbeat.store(now, Ordering::Relaxed);
            }
        });
        while let Some(job) = jobs.recv().await {
            tokio::task::spawn_local(job);
        }
        heartbeat.abort();
    }));
    runtime.block_on(renders);
}

async fn watch(pool: Weak<Inner>) {
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        pool.check();
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "5")],
        "The portal could not render this page in time. Please try again.",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use futures_util::StreamExt;
    use http_body_util::BodyExt;

    use super::*;

    fn pool(threads: usize, limit: Duration) -> RenderPool {
        install_executor();
        RenderPool::start(threads, limit, &Registry::new())
    }

    async fn body_of(response: Response) -> Result<String, axum::Error> {
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renders_and_their_tasks_run_on_one_render_thread() {
        let pool = pool(2, Duration::from_secs(5));
        let response = pool
            .render("/".to_owned(), async {
                let here = std::thread::current().id();
                let (tx, rx) = oneshot::channel();
                any_spawner::Executor::spawn(Box::pin(async move {
                    let _ = tx.send(std::thread::current().id());
                }));
                let spawned_on = rx.await.unwrap();
                let name = std::thread::current().name().unwrap_or_default().to_owned();
                format!("{name} {}", here == spawned_on).into_response()
            })
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = body_of(response).await.unwrap();
        assert!(body.starts_with("berth-render-") && body.ends_with("true"), "{body}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_render_answers_503_and_a_slow_body_is_cut_off() {
        let pool = pool(1, Duration::from_millis(300));
        let response = pool
            .render("/slow".to_owned(), async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                StatusCode::OK.into_response()
            })
            .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

        let response = pool
            .render("/slow-body".to_owned(), async {
                let stream = futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("<html>")) })
                    .chain(futures_util::stream::once(async {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        Ok(Bytes::from("</html>"))
                    }));
                Body::from_stream(stream).into_response()
            })
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(body_of(response).await.is_err(), "a cut-off body ends in an error, not as a whole page");
        assert_eq!(pool.inner.metrics.cut_off.get(), 2);
        // The render thread finishes the cut-off job just after the client sees the end.
        for _ in 0..50 {
            if pool.inner.metrics.in_flight.get() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(pool.inner.metrics.in_flight.get(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_pool_refuses_at_once_instead_of_queueing() {
        let pool = pool(1, Duration::from_secs(30));
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let waiting: Vec<_> = (0..MAX_RENDERS_PER_THREAD)
            .map(|n| {
                let (pool, release) = (pool.clone(), release.clone());
                tokio::spawn(async move {
                    pool.render(format!("/wait/{n}"), async move {
                        let _permit = release.acquire().await;
                        "done".into_response()
                    })
                    .await
                })
            })
            .collect();
        while pool.inner.metrics.in_flight.get() < MAX_RENDERS_PER_THREAD as i64 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let refused = pool.render("/one-too-many".to_owned(), async { "late".into_response() }).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        release.add_permits(MAX_RENDERS_PER_THREAD);
        for render in waiting {
            assert_eq!(render.await.unwrap().status(), StatusCode::OK);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocked_thread_is_reported_and_replaced_and_the_runtime_keeps_serving() {
        let pool = pool(1, Duration::from_secs(1));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let blocked = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.render("/blocked".to_owned(), async move {
                    // Blocks the render thread itself, as the owner deadlock did.
                    let _ = release_rx.lock().unwrap().recv();
                    StatusCode::OK.into_response()
                })
                .await
            }
        });
        // The runtime's own workers keep answering meanwhile.
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if pool.health() != ComponentStatus::Healthy {
                break;
            }
            assert!(started.elapsed() < STUCK_AFTER * 3, "the blocked thread was never reported");
        }
        assert_eq!(pool.inner.metrics.stuck.get(), 1);
        // A replacement renders new pages.
        let response = pool.render("/next".to_owned(), async { "fine".into_response() }).await;
        assert_eq!(body_of(response).await.unwrap(), "fine");
        assert_eq!(blocked.await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
        release_tx.send(()).unwrap();
        let started = Instant::now();
        while pool.health() != ComponentStatus::Healthy {
            assert!(started.elapsed() < Duration::from_secs(10), "the released thread counts as healthy again");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
