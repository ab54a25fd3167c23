//! Reading a remote registry, for pull-based replication: its
//! repositories (the catalog) and tags, page by page along the `Link`
//! header, what a tag names (HEAD), manifests (bounded in size), blobs
//! (streamed) and the referrers of a manifest where the registry lists
//! them. Every list is bounded: past the bound the listing fails, naming it,
//! rather than holding an unbounded answer.

use reqwest::{
    Method, Response, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};
use url::Url;

use super::{MAX_JSON_BYTES, Remote, RemoteError, RemoteResult, read_limited, same_origin};

/// Names asked for per catalog or tag page.
const PAGE: usize = 1000;
/// Most repositories read from one registry, and tags from one repository.
pub const MAX_LISTED: usize = 100_000;

/// Every manifest type Berth stores, for `Accept`.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// A manifest as the remote serves it.
#[derive(Clone, Debug)]
pub struct RemoteManifest {
    pub media_type: String,
    pub content: Vec<u8>,
}

impl Remote {
    /// Every repository the credential may see (`/v2/_catalog`).
    pub async fn repositories(&self) -> RemoteResult<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let first = format!("v2/_catalog?n={PAGE}");
        self.pages(first, Some("registry:catalog:*"), "repositories", false, |body| {
            serde_json::from_slice::<Catalog>(body).map(|c| c.repositories)
        })
        .await
    }

    /// Every tag of `repository`; none when the registry does not know it.
    pub async fn tags(&self, repository: &str) -> RemoteResult<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let first = format!("v2/{repository}/tags/list?n={PAGE}");
        let scope = pull_scope(repository);
        self.pages(first, Some(&scope), "tags", true, |body| {
            serde_json::from_slice::<Tags>(body).map(|t| t.tags.unwrap_or_default())
        })
        .await
    }

    /// The digest and media type `reference` names in `repository`, if any.
    pub async fn manifest_digest(&self, repository: &str, reference: &str) -> RemoteResult<Option<(String, String)>> {
        let path = format!("v2/{repository}/manifests/{reference}");
        let response = self.send(Method::HEAD, &path, Some(&pull_scope(repository)), &accept(), None, None).await?;
        match response.status() {
            StatusCode::OK => {
                let text = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let digest = text("docker-content-digest")
                    .ok_or_else(|| self.protocol(format!("HEAD /{path} gave no Docker-Content-Digest")))?;
                let media_type = text(header::CONTENT_TYPE.as_str())
                    .map(|t| t.split(';').next().unwrap_or_default().trim().to_owned())
                    .unwrap_or_default();
                Ok(Some((digest, media_type)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(self.refusal(status, "HEAD", &format!("/{path}"), response).await),
        }
    }

    /// The manifest `reference` in `repository`, refused past `max_bytes`.
    pub async fn manifest(&self, repository: &str, reference: &str, max_bytes: usize) -> RemoteResult<RemoteManifest> {
        let path = format!("v2/{repository}/manifests/{reference}");
        let response = self.send(Method::GET, &path, Some(&pull_scope(repository)), &accept(), None, None).await?;
        match response.status() {
            StatusCode::OK => {
                let media_type = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
                    .unwrap_or_default();
                let content = read_limited(response, max_bytes)
                    .await
                    .map_err(|e| self.unreadable(&format!("manifest {repository}:{reference}"), e))?;
                Ok(RemoteManifest { media_type, content })
            }
            StatusCode::NOT_FOUND => Err(RemoteError::NotFound {
                registry: self.name().to_owned(),
                what: format!("{repository}:{reference}"),
            }),
            status => Err(self.refusal(status, "GET", &format!("/{path}"), response).await),
        }
    }

    /// A blob's content, or the bytes `range` (first and last, inclusive)
    /// of it, as a response to stream from (redirects to object storage
    /// followed without the credential). A registry that ignores the range
    /// answers 200 with the whole blob.
    pub async fn blob(&self, repository: &str, digest: &str, range: Option<(u64, u64)>) -> RemoteResult<Response> {
        let path = format!("v2/{repository}/blobs/{digest}");
        let mut headers = HeaderMap::new();
        if let Some((first, last)) = range {
            let value = HeaderValue::from_str(&format!("bytes={first}-{last}")).expect("digits and a dash");
            headers.insert(header::RANGE, value);
        }
        let response = self.send(Method::GET, &path, Some(&pull_scope(repository)), &headers, None, None).await?;
        match response.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => Ok(response),
            StatusCode::NOT_FOUND => {
                Err(RemoteError::NotFound { registry: self.name().to_owned(), what: format!("blob {digest}") })
            }
            status => Err(self.refusal(status, "GET", &format!("/{path}"), response).await),
        }
    }

    /// The digests of the manifests that refer to `digest` (OCI 1.1
    /// referrers); `None` when the registry does not list referrers.
    pub async fn referrers(&self, repository: &str, digest: &str) -> RemoteResult<Option<Vec<String>>> {
        #[derive(serde::Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            digest: String,
        }
        let path = format!("v2/{repository}/referrers/{digest}");
        let response =
            self.send(Method::GET, &path, Some(&pull_scope(repository)), &HeaderMap::new(), None, None).await?;
        match response.status() {
            StatusCode::OK => {
                let body = read_limited(response, MAX_JSON_BYTES)
                    .await
                    .map_err(|e| self.unreadable(&format!("the referrers of {digest}"), e))?;
                let index: Index = serde_json::from_slice(&body)
                    .map_err(|e| self.protocol(format!("the referrers of {digest}: {e}")))?;
                Ok(Some(index.manifests.into_iter().map(|entry| entry.digest).collect()))
            }
            // Registries before OCI 1.1 (distribution 2.8) have no such route.
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Ok(None),
            status => Err(self.refusal(status, "GET", &format!("/{path}"), response).await),
        }
    }

    /// Reads a paged list from `first`, following `Link: <…>; rel="next"`
    /// on the registry's own origin, up to [`MAX_LISTED`] names. A 404 is
    /// an empty list when `missing_is_empty` (a repository with no tags),
    /// else the registry does not offer the list at all.
    async fn pages(
        &self,
        first: String,
        scope: Option<&str>,
        what: &str,
        missing_is_empty: bool,
        read: impl Fn(&[u8]) -> serde_json::Result<Vec<String>>,
    ) -> RemoteResult<Vec<String>> {
        let mut names = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            let response = self.send(Method::GET, &path, scope, &HeaderMap::new(), None, None).await?;
            match response.status() {
                StatusCode::OK => {}
                StatusCode::NOT_FOUND if missing_is_empty => return Ok(names),
                StatusCode::NOT_FOUND => {
                    let what = format!("{what} list (/{path}); it does not offer one");
                    return Err(RemoteError::NotFound { registry: self.name().to_owned(), what });
                }
                status => return Err(self.refusal(status, "GET", &format!("/{path}"), response).await),
            }
            next = next_page(response.headers(), &self.base);
            let body = read_limited(response, MAX_JSON_BYTES)
                .await
                .map_err(|e| self.unreadable(&format!("a page of {what}"), e))?;
            let page = read(&body).map_err(|e| self.protocol(format!("a page of {what}: {e}")))?;
            if names.len() + page.len() > MAX_LISTED {
                return Err(self.protocol(format!("more than {MAX_LISTED} {what}")));
            }
            let empty = page.is_empty();
            names.extend(page);
            if empty {
                break;
            }
        }
        Ok(names)
    }
}

fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

fn accept() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
    headers
}

/// The next page a `Link` header names, as a path from the registry's
/// base; `None` without one or when it leaves the registry's origin.
fn next_page(headers: &HeaderMap, base: &Url) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    let target = link.split(',').find(|part| part.contains("rel=\"next\"") || part.contains("rel=next"))?;
    let target = target.split(';').next()?.trim().trim_start_matches('<').trim_end_matches('>');
    let url = base.join(target).ok()?;
    if !same_origin(&url, base) {
        return None;
    }
    let path = url.path().strip_prefix(base.path()).unwrap_or(url.path()).to_owned();
    Some(match url.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_pages_stay_on_the_registry() {
        let base = Url::parse("https://reg.example/").unwrap();
        let link = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::LINK, HeaderValue::from_str(value).unwrap());
            next_page(&headers, &base)
        };
        assert_eq!(link(r#"</v2/_catalog?last=b&n=1000>; rel="next""#).as_deref(), Some("v2/_catalog?last=b&n=1000"));
        assert_eq!(link(r#"<https://elsewhere.example/v2/_catalog?last=b>; rel="next""#), None);
        assert_eq!(link(r#"</v2/_catalog?last=b>; rel="prev""#), None);
        assert_eq!(next_page(&HeaderMap::new(), &base), None);
    }
}
