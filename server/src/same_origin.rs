//! The one rule against cross-site request forgery, for the portal's
//! server functions and REST writes made with a session cookie.

use axum::http::{HeaderMap, header};

/// A browser always sends `Origin` on cross-site writes; a request whose
/// origin is neither this host nor the external URL is a forgery. Requests
/// without `Origin` come from non-browser clients and carry no ambient cookie risk
/// unless `Sec-Fetch-Site` says the browser made them cross-site.
pub fn is_same_origin(headers: &HeaderMap, external_origin: &str) -> bool {
    if headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == external_origin {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin.split_once("://"), host) {
        (Some((_, origin_host)), Some(host)) => origin_host.eq_ignore_ascii_case(host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn origin_check() {
        let external = "https://registry.example.com";
        assert!(is_same_origin(&headers(&[]), external));
        assert!(is_same_origin(&headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]), external));
        assert!(is_same_origin(
            &headers(&[("origin", "https://registry.example.com"), ("host", "10.0.0.5")]),
            external
        ));
        assert!(!is_same_origin(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")]), external));
        assert!(!is_same_origin(&headers(&[("origin", "null"), ("host", "127.0.0.1:8080")]), external));
        assert!(!is_same_origin(&headers(&[("sec-fetch-site", "cross-site")]), external));
    }
}
