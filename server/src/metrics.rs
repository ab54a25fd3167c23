//! Prometheus metrics at `GET /metrics`: request counts and latencies by
//! method, matched route and status. Each app has its own registry, so tests
//! can run several apps in one process.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Instant,
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use tower::{Layer, Service};

#[derive(Clone)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl HttpMetrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("berth_http_requests_total", "HTTP requests served, by method, route and status"),
            &labels,
        )
        .expect("metric definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new("berth_http_request_duration_seconds", "Time to produce the response headers")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
            &labels,
        )
        .expect("metric definition is valid");
        registry.register(Box::new(requests.clone())).expect("metric registered once");
        registry.register(Box::new(latency.clone())).expect("metric registered once");
        Arc::new(Self { registry, requests, latency })
    }

    /// Where other parts of the server register their metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn observe(&self, method: &str, route: &str, status: &str, seconds: f64) {
        self.requests.with_label_values(&[method, route, status]).inc();
        self.latency.with_label_values(&[method, route, status]).observe(seconds);
    }

    fn render(&self) -> String {
        TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
}

/// Records every request of `router` (added with `Router::layer`, so the
/// matched route is known; unmatched paths share one label).
pub fn layer(router: Router, metrics: Arc<HttpMetrics>) -> Router {
    router.layer(TrackLayer(metrics))
}

/// The `/metrics` endpoint.
pub fn router(metrics: Arc<HttpMetrics>) -> Router {
    Router::new().route("/metrics", get(render_metrics)).with_state(metrics)
}

/// A plain service rather than `from_fn`, which clones and boxes the route
/// beneath it and boxes its future on every request.
#[derive(Clone)]
struct TrackLayer(Arc<HttpMetrics>);

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner, metrics: self.0.clone() }
    }
}

#[derive(Clone)]
struct Track<S> {
    inner: S,
    metrics: Arc<HttpMetrics>,
}

impl<S: Service<Request, Response = Response>> Service<Request> for Track<S> {
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Also names the route in the request's span: the access log opens it
    /// outside the router, before the route is known.
    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        crate::telemetry::record_route(route.as_ref().map_or(UNMATCHED, MatchedPath::as_str));
        Tracked { response: self.inner.call(request), metrics: self.metrics.clone(), method, route, started }
    }
}

const UNMATCHED: &str = "unmatched";

pin_project_lite::pin_project! {
    struct Tracked<F> {
        #[pin]
        response: F,
        metrics: Arc<HttpMetrics>,
        method: Method,
        route: Option<MatchedPath>,
        started: Instant,
    }
}

impl<F: Future<Output = Result<Response, E>>, E> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = ready!(this.response.poll(cx));
        if let Ok(response) = &output {
            let route = this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
            let seconds = this.started.elapsed().as_secs_f64();
            this.metrics.observe(this.method.as_str(), route, response.status().as_str(), seconds);
        }
        Poll::Ready(output)
    }
}

async fn render_metrics(State(metrics): State<Arc<HttpMetrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render())
}
