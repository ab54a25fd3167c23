//! Listing endpoints: distribution-spec "Listing tags" and the catalog, both
//! paged with `n` and `last` and a `Link` header to the next page; and the
//! OCI 1.1 referrers API.

use axum::{
    Json,
    http::{HeaderName, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use app::core::{
    AppState,
    access::ProjectGrant,
    identity::Visibility,
    registry::{Page, digest::Digest, manifest::OCI_INDEX, names::RepoName},
};

use super::error::{OciError, OciResult};

const FILTERS_APPLIED_HEADER: HeaderName = HeaderName::from_static("oci-filters-applied");

/// `n` and `last` from a listing's query.
pub struct Paging {
    pub limit: Option<u32>,
    pub last: Option<String>,
}

impl Paging {
    pub fn from_query(query: &std::collections::HashMap<String, String>) -> OciResult<Self> {
        let limit = match query.get("n") {
            None => None,
            Some(n) => {
                Some(n.parse::<u32>().map_err(|_| OciError::PaginationInvalid(format!("n={n:?} is not a count")))?)
            }
        };
        Ok(Self { limit, last: query.get("last").cloned() })
    }

    /// `Link: <path?n=N&last=X>; rel="next"` when another page follows.
    fn link(&self, path: &str, page: &Page) -> Option<HeaderValue> {
        let (Some(limit), true, Some(last)) = (self.limit, page.more, page.names.last()) else {
            return None;
        };
        let last: String = url::form_urlencoded::byte_serialize(last.as_bytes()).collect();
        HeaderValue::from_str(&format!("<{path}?n={limit}&last={last}>; rel=\"next\"")).ok()
    }
}

#[derive(Serialize)]
struct TagList<'a> {
    name: &'a str,
    tags: &'a [String],
}

pub async fn list_tags(state: &AppState, name: &RepoName, grant: &ProjectGrant, paging: Paging) -> OciResult<Response> {
    let page = state.registry.list_tags(name, grant, paging.limit, paging.last.as_deref()).await?;
    let mut response = Json(TagList { name: name.as_str(), tags: &page.names }).into_response();
    if let Some(link) = paging.link(&format!("/v2/{name}/tags/list"), &page) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

#[derive(Serialize)]
struct Catalog<'a> {
    repositories: &'a [String],
}

/// `GET /v2/_catalog`: the repositories the caller may see.
pub async fn catalog(state: &AppState, paging: Paging, visibility: Visibility) -> OciResult<Response> {
    let page = state.registry.catalog(paging.limit, paging.last.as_deref(), visibility).await?;
    let mut response = Json(Catalog { repositories: &page.names }).into_response();
    if let Some(link) = paging.link("/v2/_catalog", &page) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReferrerIndex {
    schema_version: u8,
    media_type: &'static str,
    manifests: Vec<ReferrerDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReferrerDescriptor {
    media_type: String,
    digest: String,
    size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<serde_json::Value>,
}

/// OCI 1.1 "Listing referrers": an image index of the manifests whose
/// `subject` is `digest` (empty, not 404, when there are none).
pub async fn referrers(
    state: &AppState,
    name: &RepoName,
    digest: &Digest,
    artifact_type: Option<&str>,
    grant: &ProjectGrant,
) -> OciResult<Response> {
    let rows = state.registry.referrers(name, digest, artifact_type, grant).await?;
    let manifests = rows
        .into_iter()
        .map(|row| ReferrerDescriptor {
            media_type: row.media_type,
            digest: row.digest,
            size: row.size,
            artifact_type: row.artifact_type,
            annotations: row.annotations.and_then(|a| serde_json::from_str(&a).ok()),
        })
        .collect();
    let index = ReferrerIndex { schema_version: 2, media_type: OCI_INDEX, manifests };
    let mut response = Json(index).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_INDEX));
    if artifact_type.is_some() {
        response.headers_mut().insert(FILTERS_APPLIED_HEADER, HeaderValue::from_static("artifactType"));
    }
    Ok(response)
}
