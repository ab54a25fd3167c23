//! The OCI distribution API under `/v2/`. One wildcard route takes every
//! `/v2/<name>/…` path; [`path::parse`] finds the endpoint and this module
//! validates names and hands off to the endpoint's handler.

mod auth;
mod blobs;
mod error;
mod listings;
mod manifests;
mod path;
#[cfg(test)]
mod properties;
mod uploads;

use std::net::SocketAddr;

use axum::{
    Json, Router,
    extract::{ConnectInfo, Path, Request, State},
    http::{HeaderMap, HeaderName, Method},
    response::{IntoResponse, Response},
    routing::{any, get},
};

use app::core::{
    AppState,
    access::ProjectGrant,
    identity::Actor,
    rbac::Action,
    registry::{digest::Digest, names::RepoName},
};
use auth::{Identity, Need};
use error::{OciError, OciResult};
use path::Endpoint;

/// Tells clients this is a registry speaking the v2 API.
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("docker-distribution-api-version");
pub const CONTENT_DIGEST_HEADER: HeaderName = HeaderName::from_static("docker-content-digest");
pub const UPLOAD_UUID_HEADER: HeaderName = HeaderName::from_static("docker-upload-uuid");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/", get(check_api_version))
        .route("/v2", get(check_api_version))
        .route("/v2/{*rest}", any(dispatch))
}

/// distribution-spec "Determining support": `GET /v2/` answers 200 when the
/// registry implements the API and the caller's credentials are good, and
/// 401 with the token service's challenge otherwise (how docker clients
/// discover where to log in).
async fn check_api_version(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let checked = match auth::identify(&state, &headers, Some(&crate::client_addr::text(peer.ip()))).await {
        Ok(identity) => auth::authorize(&state, &identity, Need::SignedIn).await,
        Err(error) => Err(error),
    };
    match checked {
        Ok(()) => ([(API_VERSION_HEADER, "registry/2.0")], Json(serde_json::json!({}))).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn dispatch(State(state): State<AppState>, Path(rest): Path<String>, request: Request) -> Response {
    match route(&state, &rest, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// Every handler but the manifest read runs boxed: this future holds only
/// what runs inline, and it is moved a few times per request (20 KB before,
/// 3.5 KB since; copying it was a tenth of a manifest GET's CPU).
async fn route(state: &AppState, rest: &str, request: Request) -> OciResult<Response> {
    let endpoint = path::parse(rest).ok_or(OciError::NameUnknown)?;
    let client_addr = crate::client_addr::of_request(request.extensions());
    let identity = auth::identify(state, request.headers(), client_addr.as_deref()).await?;
    let actor = Actor { principal: identity.principal(), client_addr };
    let host = state.http.registry_host();
    let method = request.method().clone();
    match endpoint {
        Endpoint::Blob { name, digest } => {
            let (name, digest) = (repo_name(name, host)?, parse_digest(digest)?);
            let grant =
                auth::grant(state, &identity, &actor, &name, action_for(&method, Action::DeleteArtifact)).await?;
            match method {
                Method::GET => Box::pin(blobs::get_blob(state, &name, &digest, request.headers(), false, &grant)).await,
                Method::HEAD => Box::pin(blobs::get_blob(state, &name, &digest, request.headers(), true, &grant)).await,
                Method::DELETE => Box::pin(blobs::delete_blob(state, &name, &digest, &grant)).await,
                other => Err(not_allowed(&other)),
            }
        }
        Endpoint::UploadStart { name } => {
            let name = repo_name(name, host)?;
            let grant = match mount_from(request.uri().query(), host) {
                Some(source) => Box::pin(auth::grant_mount(state, &identity, &actor, &name, &source)).await?,
                None => auth::grant(state, &identity, &actor, &name, Action::Push).await?,
            };
            match method {
                Method::POST => {
                    let source = Box::pin(mount_source(state, &identity, &actor, request.uri().query())).await?;
                    let source = source.as_ref().map(|(from, pull)| (from, pull));
                    Box::pin(uploads::start_upload(state, &grant, &name, source, request)).await
                }
                other => Err(not_allowed(&other)),
            }
        }
        Endpoint::Upload { name, id } => {
            let name = repo_name(name, host)?;
            let grant = auth::grant(state, &identity, &actor, &name, Action::Push).await?;
            let id = uploads::upload_id(id)?;
            match method {
                Method::GET => Box::pin(uploads::get_upload_status(state, &grant, &name, &id)).await,
                Method::PATCH => Box::pin(uploads::patch_upload(state, &grant, &name, &id, request)).await,
                Method::PUT => Box::pin(uploads::put_upload(state, &grant, &name, &id, request)).await,
                Method::DELETE => Box::pin(uploads::delete_upload(state, &grant, &name, &id)).await,
                other => Err(not_allowed(&other)),
            }
        }
        Endpoint::Manifest { name, reference } => {
            let (name, reference) = (repo_name(name, host)?, manifests::reference(reference, method == Method::PUT)?);
            let action = if method == Method::PUT { Action::Push } else { action_for(&method, Action::DeleteArtifact) };
            let grant = auth::grant(state, &identity, &actor, &name, action).await?;
            match method {
                Method::GET => {
                    manifests::get_manifest(state, &name, &reference, request.headers(), &grant, false).await
                }
                Method::HEAD => {
                    manifests::get_manifest(state, &name, &reference, request.headers(), &grant, true).await
                }
                Method::PUT => Box::pin(manifests::put_manifest(state, &name, &reference, request, &grant)).await,
                Method::DELETE => Box::pin(manifests::delete_manifest(state, &name, &reference, &grant)).await,
                other => Err(not_allowed(&other)),
            }
        }
        Endpoint::Tags { name } => {
            let name = repo_name(name, host)?;
            let grant = auth::grant(state, &identity, &actor, &name, Action::Pull).await?;
            match method {
                Method::GET => {
                    let paging = listings::Paging::from_query(&query_params(request.uri().query()))?;
                    Box::pin(listings::list_tags(state, &name, &grant, paging)).await
                }
                other => Err(not_allowed(&other)),
            }
        }
        Endpoint::Catalog => match method {
            Method::GET => {
                auth::authorize(state, &identity, Need::Catalog).await?;
                let paging = listings::Paging::from_query(&query_params(request.uri().query()))?;
                Box::pin(listings::catalog(state, paging, auth::visibility(state, &identity).await?)).await
            }
            other => Err(not_allowed(&other)),
        },
        Endpoint::Referrers { name, digest } => {
            let (name, digest) = (repo_name(name, host)?, parse_digest(digest)?);
            let grant = auth::grant(state, &identity, &actor, &name, Action::Pull).await?;
            match method {
                Method::GET => {
                    let query = query_params(request.uri().query());
                    let artifact_type = query.get("artifactType").map(String::as_str);
                    Box::pin(listings::referrers(state, &name, &digest, artifact_type, &grant)).await
                }
                other => Err(not_allowed(&other)),
            }
        }
    }
}

/// Reads need pull; `DELETE` needs `delete` (other methods are refused later).
fn action_for(method: &Method, delete: Action) -> Action {
    if method == Method::DELETE { delete } else { Action::Pull }
}

/// The `from` repository of a cross-repository mount and the grant to
/// pull there, when the caller may; otherwise the mount falls back to a
/// normal upload session, as the spec says, without telling whether the
/// source exists.
async fn mount_source(
    state: &AppState,
    identity: &Identity,
    actor: &Actor,
    query: Option<&str>,
) -> OciResult<Option<(RepoName, ProjectGrant)>> {
    let query = query_params(query);
    let (Some(_), Some(from)) = (query.get("mount"), query.get("from")) else {
        return Ok(None);
    };
    let from = repo_name(from, state.http.registry_host())?;
    let pull = auth::grant_if(state, identity, actor, &from, Action::Pull).await?;
    Ok(pull.map(|grant| (from, grant)))
}

/// The valid `from` repository of a mount request, if it is one.
fn mount_from(query: Option<&str>, host: &str) -> Option<RepoName> {
    let query = query_params(query);
    query.get("mount")?;
    RepoName::parse(query.get("from")?, host).ok()
}

fn repo_name(raw: &str, host: &str) -> OciResult<RepoName> {
    RepoName::parse(raw, host).map_err(|e| OciError::NameInvalid(e.to_string()))
}

fn parse_digest(raw: &str) -> OciResult<Digest> {
    raw.parse().map_err(|e: app::core::registry::digest::DigestError| OciError::DigestInvalid(e.to_string()))
}

fn query_params(query: Option<&str>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect()
}

fn not_allowed(method: &Method) -> OciError {
    OciError::Unsupported(format!("{method} is not supported here"))
}
