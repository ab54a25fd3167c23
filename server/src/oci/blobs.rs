//! Blob endpoints: distribution-spec "Pulling blobs" (`GET`/`HEAD
//! /v2/<name>/blobs/<digest>`, with `Range`) and "Deleting blobs".

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use app::core::{
    AppState,
    access::ProjectGrant,
    registry::{digest::Digest, names::RepoName},
    storage::ByteRange,
};

use super::{
    CONTENT_DIGEST_HEADER,
    error::{OciError, OciResult},
};

pub async fn get_blob(
    state: &AppState,
    name: &RepoName,
    digest: &Digest,
    headers: &HeaderMap,
    head_only: bool,
    grant: &ProjectGrant,
) -> OciResult<Response> {
    if !head_only && let Some(url) = state.registry.blob_pull_url(name, digest, grant).await? {
        // The bytes come straight from object storage (a Range header goes
        // along with the client); the client's credentials stay here.
        return Ok((
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, HeaderValue::from_str(&url).map_err(|e| OciError::Internal(Box::new(e)))?)],
            [(CONTENT_DIGEST_HEADER, digest_header(digest))],
        )
            .into_response());
    }
    let requested = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range_for = |size| requested.map_or(Ok(None), |value| parse_range(value, size));
    let (mut response, size, range) = if head_only {
        let size = state.registry.stat_blob(name, digest, grant).await?;
        (Response::new(Body::empty()), size, range_for(size)?)
    } else {
        let (reader, range) = state.registry.read_blob(name, digest, grant, range_for).await?;
        (Response::new(Body::from_stream(reader.body)), reader.size, range)
    };
    let headers = response.headers_mut();
    let length = range.map_or(size, |r| r.byte_count());
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(CONTENT_DIGEST_HEADER, digest_header(digest));
    if let Some(range) = range {
        let value = format!("bytes {}-{}/{size}", range.first, range.last);
        headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).expect("digits are a valid header value"));
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(response)
}

/// distribution-spec "Deleting blobs": 202 once the repository no longer has it.
pub async fn delete_blob(
    state: &AppState,
    name: &RepoName,
    digest: &Digest,
    grant: &ProjectGrant,
) -> OciResult<Response> {
    state.registry.delete_blob(name, digest, grant).await?;
    Ok((StatusCode::ACCEPTED, [(CONTENT_DIGEST_HEADER, digest_header(digest))]).into_response())
}

pub fn digest_header(digest: &Digest) -> HeaderValue {
    HeaderValue::from_str(&digest.to_string()).expect("a digest is a valid header value")
}

/// Reads a single `bytes=` range (RFC 9110 §14.1.2). Forms Berth does not
/// serve (several ranges, other units, malformed) are ignored, as the RFC
/// allows, and the whole blob is sent; a well-formed range outside the blob
/// is refused with 416.
pub(super) fn parse_range(value: &str, size: u64) -> OciResult<Option<ByteRange>> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = || super::error::OciError::RangeNotSatisfiable { size };
    let range = match (first.trim(), last.trim()) {
        ("", "") => return Ok(None),
        ("", suffix) => {
            let Ok(suffix) = suffix.parse::<u64>() else { return Ok(None) };
            if suffix == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            ByteRange { first: size.saturating_sub(suffix), last: size - 1 }
        }
        (first, last) => {
            let Ok(first) = first.parse::<u64>() else { return Ok(None) };
            let last = if last.is_empty() {
                size.saturating_sub(1)
            } else {
                match last.parse::<u64>() {
                    Ok(last) => last.min(size.saturating_sub(1)),
                    Err(_) => return Ok(None),
                }
            };
            if first >= size || first > last {
                return Err(unsatisfiable());
            }
            ByteRange { first, last }
        }
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |first, last| Some(ByteRange { first, last });
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), r(0, 9));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), r(90, 99));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), r(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100).unwrap(), r(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100).unwrap(), r(50, 99), "the end is clamped");
        for ignored in ["items=0-1", "bytes=0-1,5-6", "bytes=x-1", "bytes=-", "0-1"] {
            assert_eq!(parse_range(ignored, 100).unwrap(), None, "{ignored}");
        }
        for refused in ["bytes=100-", "bytes=100-200", "bytes=5-4", "bytes=-0"] {
            assert!(parse_range(refused, 100).is_err(), "{refused}");
        }
        assert!(parse_range("bytes=0-", 0).is_err());
    }
}
