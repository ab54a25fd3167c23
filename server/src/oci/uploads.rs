//! Upload endpoints: distribution-spec "Pushing blobs" — monolithic
//! (`POST ?digest=`), `POST` + `PUT`, chunked `POST` + `PATCH`… + `PUT`,
//! upload status, cancellation, and cross-repository mounts.

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt;

use app::core::{
    AppState,
    access::ProjectGrant,
    registry::{digest::Digest, names::RepoName},
    storage::{ByteStream, UploadId},
};

use super::{
    CONTENT_DIGEST_HEADER, UPLOAD_UUID_HEADER,
    blobs::digest_header,
    error::{OciError, OciResult},
    parse_digest, query_params,
};

pub fn upload_id(raw: &str) -> OciResult<UploadId> {
    UploadId::parse(raw).ok_or(OciError::BlobUploadUnknown)
}

/// `POST /v2/<name>/blobs/uploads/`: a mount, a monolithic push, or a new
/// session. `readable_source` is the mount's `from` repository when the
/// caller may read it.
pub async fn start_upload(
    state: &AppState,
    grant: &ProjectGrant,
    name: &RepoName,
    readable_source: Option<(&RepoName, &ProjectGrant)>,
    request: Request,
) -> OciResult<Response> {
    let query = query_params(request.uri().query());
    if let Some(mount) = query.get("mount") {
        let digest = parse_digest(mount)?;
        if let Some((from, source)) = readable_source
            && state.registry.mount_blob(grant, name, source, from, &digest).await?.is_some()
        {
            return Ok(blob_created(name, &digest));
        }
        // Not mountable: the spec has the registry fall back to a normal upload session.
    } else if let Some(digest) = query.get("digest") {
        let digest = parse_digest(digest)?;
        state.registry.upload_monolithic(grant, name, &digest, body_stream(request.into_body())).await?;
        return Ok(blob_created(name, &digest));
    }
    let id = state.registry.start_upload(grant, name).await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, name, &id, 0))
}

/// `PATCH …/uploads/<id>`: appends a chunk, in order.
pub async fn patch_upload(
    state: &AppState,
    grant: &ProjectGrant,
    name: &RepoName,
    id: &UploadId,
    request: Request,
) -> OciResult<Response> {
    let start = chunk_start(request.headers())?;
    let size = state.registry.append_upload(grant, name, id, start, body_stream(request.into_body())).await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, name, id, size))
}

/// `PUT …/uploads/<id>?digest=`: the last chunk (if any), then verify and publish.
pub async fn put_upload(
    state: &AppState,
    grant: &ProjectGrant,
    name: &RepoName,
    id: &UploadId,
    request: Request,
) -> OciResult<Response> {
    let query = query_params(request.uri().query());
    let digest = query
        .get("digest")
        .ok_or_else(|| OciError::DigestInvalid("the digest query parameter is required".to_owned()))
        .and_then(|raw| parse_digest(raw))?;
    let start = chunk_start(request.headers())?;
    if let Some(start) = start {
        let staged = state.registry.upload_progress(grant, name, id).await?;
        if start != staged {
            return Err(OciError::RangeInvalid(format!("chunk starts at {start}, upload holds {staged} bytes")));
        }
    }
    let last_chunk = has_body(request.headers()).then(|| body_stream(request.into_body()));
    state.registry.complete_upload(grant, name, id, &digest, last_chunk).await?;
    Ok(blob_created(name, &digest))
}

/// `GET …/uploads/<id>`: how much arrived, so a client can resume.
pub async fn get_upload_status(
    state: &AppState,
    grant: &ProjectGrant,
    name: &RepoName,
    id: &UploadId,
) -> OciResult<Response> {
    let size = state.registry.upload_progress(grant, name, id).await?;
    Ok(upload_accepted(StatusCode::NO_CONTENT, name, id, size))
}

/// `DELETE …/uploads/<id>`: cancels the upload.
pub async fn delete_upload(
    state: &AppState,
    grant: &ProjectGrant,
    name: &RepoName,
    id: &UploadId,
) -> OciResult<Response> {
    state.registry.cancel_upload(grant, name, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn blob_created(name: &RepoName, digest: &Digest) -> Response {
    let location = format!("/v2/{name}/blobs/{digest}");
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, HeaderValue::from_str(&location).expect("names and digests are valid header values")),
            (CONTENT_DIGEST_HEADER, digest_header(digest)),
            (header::CONTENT_LENGTH, HeaderValue::from_static("0")),
        ],
    )
        .into_response()
}

fn upload_accepted(status: StatusCode, name: &RepoName, id: &UploadId, size: u64) -> Response {
    let location = format!("/v2/{name}/blobs/uploads/{id}");
    // The spec's inclusive range; an empty upload reports 0-0.
    let range = format!("0-{}", size.saturating_sub(1));
    (
        status,
        [
            (header::LOCATION, HeaderValue::from_str(&location).expect("names and ids are valid header values")),
            (header::RANGE, HeaderValue::from_str(&range).expect("digits are a valid header value")),
            (UPLOAD_UUID_HEADER, HeaderValue::from_str(id.as_str()).expect("a UUID is a valid header value")),
            (header::CONTENT_LENGTH, HeaderValue::from_static("0")),
        ],
    )
        .into_response()
}

/// Where a chunk claims to start, from `Content-Range: <start>-<end>` (some
/// clients prefix `bytes=` or `bytes `). The length it claims must match
/// `Content-Length` when both are given.
pub(super) fn chunk_start(headers: &HeaderMap) -> OciResult<Option<u64>> {
    let Some(value) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = || OciError::RangeInvalid(format!("unreadable Content-Range {value:?}"));
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text.strip_prefix("bytes=").or_else(|| text.strip_prefix("bytes ")).unwrap_or(text);
    let text = text.split('/').next().unwrap_or(text);
    let (start, end) = text.split_once('-').ok_or_else(invalid)?;
    let start: u64 = start.trim().parse().map_err(|_| invalid())?;
    let end: u64 = end.trim().parse().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    if let Some(length) = content_length(headers)
        && length != end - start + 1
    {
        return Err(OciError::RangeInvalid(format!(
            "Content-Range {start}-{end} does not match Content-Length {length}"
        )));
    }
    Ok(Some(start))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Whether a request carries body bytes (a length above zero, or chunked).
fn has_body(headers: &HeaderMap) -> bool {
    content_length(headers).map_or_else(|| headers.contains_key(header::TRANSFER_ENCODING), |n| n > 0)
}

fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn content_range_forms() {
        assert_eq!(chunk_start(&headers(&[])).unwrap(), None);
        for form in ["10-19", "bytes=10-19", "bytes 10-19/*", " 10-19 "] {
            assert_eq!(chunk_start(&headers(&[(header::CONTENT_RANGE, form)])).unwrap(), Some(10), "{form}");
        }
        let matching = headers(&[(header::CONTENT_RANGE, "0-9"), (header::CONTENT_LENGTH, "10")]);
        assert_eq!(chunk_start(&matching).unwrap(), Some(0));
        let mismatched = headers(&[(header::CONTENT_RANGE, "0-9"), (header::CONTENT_LENGTH, "11")]);
        assert!(chunk_start(&mismatched).is_err());
        for bad in ["x-1", "5-4", "10", "bytes=a-b"] {
            assert!(chunk_start(&headers(&[(header::CONTENT_RANGE, bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn body_presence() {
        assert!(!has_body(&headers(&[])));
        assert!(!has_body(&headers(&[(header::CONTENT_LENGTH, "0")])));
        assert!(has_body(&headers(&[(header::CONTENT_LENGTH, "3")])));
        assert!(has_body(&headers(&[(header::TRANSFER_ENCODING, "chunked")])));
    }
}
