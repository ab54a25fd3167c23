//! Prometheus metrics at `GET /metrics`: request counts and latencies by
//! method, matched route and status. Each app has its own registry, so tests
//! can run several apps in one process.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

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
    router.layer(middleware::from_fn_with_state(metrics, track))
}

/// The `/metrics` endpoint.
pub fn router(metrics: Arc<HttpMetrics>) -> Router {
    Router::new().route("/metrics", get(render_metrics)).with_state(metrics)
}

/// Also names the route in the request's span: the access log opens it
/// outside the router, before the route is known.
async fn track(State(metrics): State<Arc<HttpMetrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route_name = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    crate::telemetry::record_route(route_name);
    let response = next.run(request).await;
    metrics.observe(method.as_str(), route_name, response.status().as_str(), started.elapsed().as_secs_f64());
    response
}

async fn render_metrics(State(metrics): State<Arc<HttpMetrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render())
}
