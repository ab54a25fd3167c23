//! Logging: the tracing subscriber, a request id on every request (taken from
//! `X-Request-Id` or generated, and echoed back) and one access-log line per
//! request, inside a span carrying method, matched route, request id and
//! client address.

use std::{net::SocketAddr, time::Duration};

use axum::{body::Body, extract::ConnectInfo, http::Request, response::Response};
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    request_id::RequestId,
    trace::TraceLayer,
};
use tracing::{Span, field::Empty};
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. Call once, from `main`.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// The span each request runs in, and its access-log line when answered.
/// It wraps the whole router, so the matched route is not known yet when
/// the span opens: [`record_route`] fills it in from inside the router.
pub fn access_log() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeRequestSpan, (), LogResponse> {
    TraceLayer::new_for_http()
        .make_span_with(request_span as MakeRequestSpan)
        .on_request(())
        .on_response(log_response as LogResponse)
}

pub type MakeRequestSpan = fn(&Request<Body>) -> Span;
pub type LogResponse = fn(&Response, Duration, &Span);

fn request_span(request: &Request<Body>) -> Span {
    let request_id =
        request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-");
    // The client as Berth believes it (see `client_addr`): behind a trusted proxy, the forwarded one.
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = Empty,
        path = %request.uri().path(),
        request_id,
        client = client.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
        status = Empty,
    )
}

fn log_response(response: &Response, latency: Duration, span: &Span) {
    span.record("status", response.status().as_u16());
    tracing::info!(
        target: "berth::access",
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request served"
    );
}

/// Names the route the router matched (or `unmatched`) in the current request's span.
pub fn record_route(route: &str) {
    Span::current().record("route", route);
}

#[cfg(test)]
mod tests {
    use std::{
        io::Write,
        sync::{Arc, Mutex},
    };

    use axum::{Router, routing::get};
    use tower::{ServiceBuilder, ServiceExt};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_access_log_names_the_route_the_router_matched() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let routes = crate::metrics::layer(
            Router::new().route("/v2/{*rest}", get(|| async { "ok" })),
            crate::metrics::HttpMetrics::new(),
        );
        let app = ServiceBuilder::new().layer(access_log()).service(routes);
        for path in ["/v2/team/app/tags/list", "/nowhere"] {
            app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        }
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().filter(|line| line.contains("request served")).collect();
        assert_eq!(lines.len(), 2, "{log}");
        // The span's fields prefix each line: `request{method=GET route="/v2/{*rest}" …}`.
        assert!(lines[0].contains(r#"route="/v2/{*rest}""#) && lines[0].contains("status=200"), "{log}");
        assert!(lines[1].contains(r#"route="unmatched""#) && lines[1].contains("status=404"), "{log}");
    }
}
