//! Property tests of what `/v2` reads from a request before any domain code
//! runs: the path, `Range`, `Content-Range` and the `Authorization` header.
//! Whatever a client sends, the answer is a value or a refusal, never a
//! panic, and accepted values obey their bounds.

use axum::http::{HeaderMap, HeaderValue, header};
use proptest::prelude::*;

use super::{blobs::parse_range, path, uploads::chunk_start};
use crate::credentials::{Presented, presented};

fn with(name: header::HeaderName, value: &str) -> Option<HeaderMap> {
    let value = HeaderValue::from_str(value).ok()?;
    Some([(name, value)].into_iter().collect())
}

proptest! {
    #[test]
    fn paths_parse_or_refuse(rest in "[a-z0-9/._:@-]{0,300}|\\PC{0,100}") {
        let _ = path::parse(&rest);
    }

    #[test]
    fn ranges_stay_inside_the_blob(value in "bytes=[0-9]{0,20}-[0-9]{0,20}|\\PC{0,40}", size in 0u64..u64::MAX) {
        if let Ok(Some(range)) = parse_range(&value, size) {
            prop_assert!(range.first <= range.last && range.last < size);
        }
    }

    #[test]
    fn content_ranges_parse_or_refuse(value in "(bytes[= ])?[0-9]{0,21}-[0-9]{0,21}(/[0-9*]{0,5})?|\\PC{0,40}") {
        if let Some(headers) = with(header::CONTENT_RANGE, &value) {
            let _ = chunk_start(&headers);
        }
    }

    #[test]
    fn authorization_headers_parse_or_refuse(value in "(Basic|Bearer|basic) [A-Za-z0-9+/=]{0,200}|\\PC{0,100}") {
        if let Some(headers) = with(header::AUTHORIZATION, &value)
            && let Presented::Basic { username, .. } = presented(&headers)
        {
            prop_assert!(!username.contains(':'));
        }
    }
}
