//! Manifest endpoints: distribution-spec "Pulling manifests" (`GET`/`HEAD`),
//! "Pushing manifests" (`PUT`, with the OCI 1.1 `subject` answer) and
//! "Deleting manifests" (by digest, or a tag by name).

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use app::core::{
    AppState,
    access::ProjectGrant,
    registry::names::{Reference, RepoName},
};

use super::{
    CONTENT_DIGEST_HEADER,
    blobs::digest_header,
    error::{OciError, OciResult},
};

const OCI_SUBJECT_HEADER: HeaderName = HeaderName::from_static("oci-subject");

/// Parses a manifest reference. `pushing` says whether the request names a
/// manifest to store (a bad tag is the client's error) or one to find (no
/// manifest can carry a malformed tag, so it is simply not there).
pub fn reference(raw: &str, pushing: bool) -> OciResult<Reference> {
    use app::core::registry::names::ReferenceError;
    Reference::parse(raw).map_err(|e| match e {
        ReferenceError::Digest(e) => OciError::DigestInvalid(e.to_string()),
        ReferenceError::Tag(e) if pushing => OciError::ManifestInvalid(e.to_string()),
        ReferenceError::Tag(_) => OciError::ManifestUnknown,
    })
}

pub async fn get_manifest(
    state: &AppState,
    name: &RepoName,
    reference: &Reference,
    headers: &HeaderMap,
    grant: &ProjectGrant,
    head_only: bool,
) -> OciResult<Response> {
    let accept: Vec<&str> = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    // A GET is a pull (recorded); a HEAD only asks.
    let manifest = if head_only {
        state.registry.stat_manifest(name, reference, &accept, grant).await?
    } else {
        state.registry.pull_manifest(name, reference, &accept, grant).await?
    };
    let length = manifest.content.len();
    let body = if head_only { Body::empty() } else { Body::from(manifest.content) };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&manifest.media_type).map_err(OciError::internal)?);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(CONTENT_DIGEST_HEADER, HeaderValue::from_str(&manifest.digest).map_err(OciError::internal)?);
    Ok(response)
}

pub async fn put_manifest(
    state: &AppState,
    name: &RepoName,
    reference: &Reference,
    request: Request,
    grant: &ProjectGrant,
) -> OciResult<Response> {
    let limit = state.registry.max_manifest_bytes();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || OciError::TooLarge(format!("manifests are limited to {limit} bytes"));
    if let Some(declared) = declared.filter(|n| *n > limit) {
        // Read and drop a moderately oversized body before answering: a client
        // still sending when the connection closes sees a broken pipe, not the 413.
        if declared <= 2 * limit {
            let mut chunks = request.into_body().into_data_stream();
            while let Some(Ok(_)) = futures_util::StreamExt::next(&mut chunks).await {}
        }
        return Err(too_large());
    }
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = axum::body::to_bytes(request.into_body(), limit).await.map_err(|_| too_large())?;
    let pushed = state.registry.put_manifest(name, reference, &body, content_type.as_deref(), grant).await?;
    let location = format!("/v2/{name}/manifests/{}", pushed.digest);
    let mut response = (
        StatusCode::CREATED,
        [
            (header::LOCATION, HeaderValue::from_str(&location).map_err(OciError::internal)?),
            (CONTENT_DIGEST_HEADER, digest_header(&pushed.digest)),
            (header::CONTENT_LENGTH, HeaderValue::from_static("0")),
        ],
    )
        .into_response();
    if let Some(subject) = pushed.subject {
        response.headers_mut().insert(OCI_SUBJECT_HEADER, digest_header(&subject));
    }
    Ok(response)
}

pub async fn delete_manifest(
    state: &AppState,
    name: &RepoName,
    reference: &Reference,
    grant: &ProjectGrant,
) -> OciResult<Response> {
    state.registry.delete_manifest(name, reference, grant).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
