//! The portal: Leptos pages and server functions, behind a gate that resolves
//! the session once per request, sends visitors without one to the login page
//! and refuses cross-site calls to server functions. Everything Leptos runs
//! (pages, server functions, the not-found page) runs on the render pool.

mod audit_export;

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};

use app::{
    App,
    api::{
        SERVER_FN_PREFIX,
        auth::local_redirect_target,
        reference::ServedApiReference,
        session::{SignedIn, session_token},
    },
    core::AppState,
    shell,
};

use crate::{render_pool::RenderPool, same_origin::is_same_origin};

/// Pages a visitor may see without a session.
const PUBLIC_PAGES: &[&str] = &["/login"];

/// The portal's pages and server functions. The render pool's executor is
/// installed first: Leptos installs its own when the routes are built.
pub fn router(state: &AppState, renders: &RenderPool) -> Router<AppState> {
    crate::render_pool::install_executor();
    let options = state.leptos_options.clone();
    let reference = ServedApiReference(Arc::new(crate::rest::api_reference()));
    Router::new()
        .leptos_routes_with_context(
            state,
            generate_route_list(App),
            move || provide_context(reference.clone()),
            move || shell(options.clone()),
        )
        .route_layer(middleware::from_fn_with_state(renders.clone(), on_render_pool))
        .route_layer(middleware::from_fn_with_state(state.clone(), session_gate))
        // Added after the layers: a download streams outside the render pool
        // (its time limit would cut a long one off) and answers 401, not a redirect.
        .route(app::api::audit::EXPORT_PATH, axum::routing::get(audit_export::export))
}

/// What answers any address no other route matches: the portal's static
/// files (served directly, not by the render threads, so a slow download
/// is not cut off at the render time limit), or its not-found page.
pub fn fallback(state: &AppState, renders: &RenderPool) -> Router {
    let not_found = Router::new()
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(renders.clone(), on_render_pool))
        .with_state(state.clone());
    let site_root = state.leptos_options.site_root.as_ref();
    let files =
        tower_http::services::ServeDir::new(site_root).append_index_html_on_directories(false).fallback(not_found);
    Router::new().fallback_service(files)
}

async fn on_render_pool(State(renders): State<RenderPool>, request: Request, next: Next) -> Response {
    let page = request.uri().path().to_owned();
    renders.render(page, next.run(request)).await
}

async fn session_gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let is_server_fn = path.starts_with(SERVER_FN_PREFIX);
    if is_server_fn
        && request.method() != Method::GET
        && !is_same_origin(request.headers(), &state.http.external_origin)
    {
        return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
    }
    let user = match session_token(request.headers()) {
        Some(token) => match state.auth.user_for_session(&token).await {
            Ok(user) => user,
            Err(error) => {
                tracing::error!(%error, "session lookup failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "session lookup failed").into_response();
            }
        },
        None => None,
    };
    let signed_in = user.is_some();
    if let Some(user) = user {
        request.extensions_mut().insert(SignedIn(user));
    }
    if !is_server_fn && request.method() == Method::GET {
        let is_public = PUBLIC_PAGES.contains(&path.as_str());
        if is_public && signed_in {
            let next = query_param(request.uri().query(), "next");
            return Redirect::to(&local_redirect_target(next.as_deref())).into_response();
        }
        if !is_public && !signed_in {
            let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let login = if target == "/" {
                "/login".to_owned()
            } else {
                format!("/login?next={}", url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>())
            };
            return Redirect::to(&login).into_response();
        }
    }
    next.run(request).await
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_parameters() {
        assert_eq!(query_param(Some("a=1&next=%2Fp%3Fx%3D1"), "next").as_deref(), Some("/p?x=1"));
        assert_eq!(query_param(None, "next"), None);
    }
}
