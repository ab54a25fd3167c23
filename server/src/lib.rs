//! The `berth` server: configuration, the HTTP surface (registry API, REST,
//! portal, metrics) over the core in the `app` crate, and serving it with
//! graceful shutdown. [`build_app`] is shared by `main` and the tests.

pub mod admin;
pub mod cli;
mod client_addr;
pub mod config;
mod connections;
mod credentials;
mod jobs;
mod metrics;
mod oci;
mod oidc;
mod portal;
mod render_pool;
mod rest;
mod same_origin;
pub mod telemetry;
mod token;

use std::{future::Future, net::TcpListener, sync::Once};

use axum::{Extension, Router, body::Body};
use axum_server::{Handle, tls_rustls::RustlsConfig};
use leptos::config::LeptosOptions;
use tower::{ServiceBuilder, util::MapRequestLayer};
use tower_http::{
    map_request_body::MapRequestBodyLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::RequestBodyTimeoutLayer,
};

pub use app::core::users::AdminBootstrap;
use app::core::{AppState, state::CoreSettings};
use config::Config;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("start-up failed: {0}")]
    Core(#[from] app::core::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("cannot load the TLS certificate or key: {0}")]
    Tls(std::io::Error),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("storage verification failed: {0}")]
    Verify(#[from] app::core::registry::Error),
}

/// A ready-to-serve Berth: its router, state, and what start-up did.
pub struct Berth {
    pub router: Router,
    pub state: AppState,
    pub admin: AdminBootstrap,
}

/// Connects and migrates the database, opens storage, creates the first
/// administrator if needed and assembles every route.
pub async fn build_app(config: &Config) -> Result<Berth, Error> {
    let leptos_options = LeptosOptions::builder()
        .output_name("berth")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    let settings = CoreSettings {
        database_url: config.database_url.clone(),
        storage: config.storage.clone(),
        admin_password: config.admin_password.clone(),
        session_ttl: config.session_timeout,
        secure_cookies: config.secure_cookies(),
        external_origin: config.external_url.origin().ascii_serialization(),
        max_manifest_bytes: config.max_manifest_bytes,
        token_lifetime: config.token_expiry,
        verify_reads: config.verify_on_read,
        link_window: config.gc_link_window,
    };
    let started = AppState::start(settings, leptos_options).await?;
    jobs::configure(&started.state, config.upload_expiry, config.audit_retention).await?;
    let http_metrics = metrics::HttpMetrics::new();
    let renders = render_pool::RenderPool::start(config.render_threads, config.render_timeout, http_metrics.registry());
    let routes = Router::new()
        .merge(oci::router())
        .merge(token::router())
        .merge(oidc::router())
        .merge(rest::router())
        .merge(portal::router(&started.state, &renders))
        .fallback_service(portal::fallback(&started.state, &renders))
        .with_state(started.state.clone())
        .merge(metrics::router(http_metrics.clone()));
    // Only the metrics see the matched route: they are added to every route.
    let routes = metrics::layer(routes, http_metrics);
    // The rest, outermost first, wraps the router as one service: a layer
    // added to every route is cloned with the route on each request.
    let middleware = ServiceBuilder::new()
        // A request whose body sends nothing for this long fails: the handler
        // reading it sees an error (an upload answers BLOB_UPLOAD_INVALID and
        // keeps nothing of the stalled part).
        .layer(RequestBodyTimeoutLayer::new(config.body_read_timeout))
        .layer(MapRequestBodyLayer::new(Body::new))
        .option_layer(client_addr::resolver(&config.trusted_proxies).map(MapRequestLayer::new))
        .map_future(count_serving(started.state.load.clone()))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(telemetry::access_log())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(Extension(renders));
    let router = Router::new().fallback_service(middleware.service(routes));
    Ok(Berth { router, state: started.state, admin: started.admin })
}

/// Counts the requests this node is serving, for background work to pace
/// itself by (until the response head is ready; a streamed body is not counted).
fn count_serving<F: Future>(load: app::core::load::Load) -> impl Fn(F) -> Counted<F> + Clone {
    move |response| Counted { response, _serving: load.enter() }
}

pin_project_lite::pin_project! {
    /// A response future that counts as one request served until it completes.
    struct Counted<F> {
        #[pin]
        response: F,
        _serving: app::core::load::Serving,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        self.project().response.poll(cx)
    }
}

/// Serves `berth` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish (up to the configured grace) and closes the
/// database.
pub async fn serve(
    config: &Config,
    berth: Berth,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    listener.set_nonblocking(true).map_err(Error::Serve)?;
    let handle = Handle::new();
    let grace = config.shutdown_grace;
    tokio::spawn({
        let handle = handle.clone();
        async move {
            shutdown.await;
            tracing::info!(grace_seconds = grace.as_secs(), "shutting down: finishing in-flight requests");
            handle.graceful_shutdown(Some(grace));
        }
    });
    let jobs = jobs::start(&berth.state, config.upload_expiry);
    let service = berth.router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let acceptor = connections::LimitedAcceptor::new(config.max_connections);
    let served = match &config.tls {
        Some(tls) => {
            install_crypto_provider();
            let tls_config = RustlsConfig::from_pem_file(&tls.cert, &tls.key).await.map_err(Error::Tls)?;
            let mut server = axum_server::from_tcp_rustls(listener, tls_config).map(|tls| tls.acceptor(acceptor));
            connections::limit_header_time(server.http_builder(), config.header_read_timeout);
            server.handle(handle).serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener).acceptor(acceptor);
            connections::limit_header_time(server.http_builder(), config.header_read_timeout);
            server.handle(handle).serve(service).await
        }
    };
    jobs.shut_down().await;
    // Events still queued are written before the database closes.
    berth.state.events.flush().await;
    berth.state.db.close().await;
    served.map_err(Error::Serve)
}

/// Binds the configured address.
pub fn bind(config: &Config) -> Result<TcpListener, Error> {
    TcpListener::bind(config.listen).map_err(|source| Error::Bind { addr: config.listen, source })
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Fails only when another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
