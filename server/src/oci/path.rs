//! The shape of a `/v2/` URL. Repository names contain `/`, so one wildcard
//! route hands the rest of the path here, and the endpoint is read from its
//! end; names are validated afterwards by the caller.

/// Which `/v2/` endpoint a path addresses, with its raw (unvalidated) parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: &'a str },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: &'a str, reference: &'a str },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: &'a str, digest: &'a str },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart { name: &'a str },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: &'a str, id: &'a str },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: &'a str, digest: &'a str },
}

/// Parses the part of the path after `/v2/`; `None` when it addresses no endpoint.
pub fn parse(rest: &str) -> Option<Endpoint<'_>> {
    if rest == "_catalog" {
        return Some(Endpoint::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return non_empty(name).map(|name| Endpoint::Tags { name });
    }
    if let Some(name) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
        return non_empty(name).map(|name| Endpoint::UploadStart { name });
    }
    let (prefix, last) = rest.rsplit_once('/')?;
    if last.is_empty() {
        return None;
    }
    let (name, kind) = prefix.rsplit_once('/')?;
    let name = non_empty(name)?;
    match kind {
        "manifests" => Some(Endpoint::Manifest { name, reference: last }),
        "blobs" => Some(Endpoint::Blob { name, digest: last }),
        "referrers" => Some(Endpoint::Referrers { name, digest: last }),
        "uploads" => {
            let name = non_empty(name.strip_suffix("/blobs")?)?;
            Some(Endpoint::Upload { name, id: last })
        }
        _ => None,
    }
}

fn non_empty(name: &str) -> Option<&str> {
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::{Endpoint::*, parse};

    #[test]
    fn endpoints_by_path() {
        let cases = [
            ("_catalog", Some(Catalog)),
            ("alpine/tags/list", Some(Tags { name: "alpine" })),
            ("library/alpine/tags/list", Some(Tags { name: "library/alpine" })),
            ("a/b/c/manifests/latest", Some(Manifest { name: "a/b/c", reference: "latest" })),
            ("a/manifests/sha256:abc", Some(Manifest { name: "a", reference: "sha256:abc" })),
            ("a/b/blobs/sha256:abc", Some(Blob { name: "a/b", digest: "sha256:abc" })),
            ("a/b/blobs/uploads/", Some(UploadStart { name: "a/b" })),
            ("a/b/blobs/uploads", Some(UploadStart { name: "a/b" })),
            ("a/b/blobs/uploads/5f0c-11", Some(Upload { name: "a/b", id: "5f0c-11" })),
            ("a/referrers/sha256:abc", Some(Referrers { name: "a", digest: "sha256:abc" })),
            // Names may contain the words the endpoints use.
            ("blobs/manifests/latest", Some(Manifest { name: "blobs", reference: "latest" })),
            ("x/manifests/y/manifests/v1", Some(Manifest { name: "x/manifests/y", reference: "v1" })),
            ("tags/blobs/uploads/", Some(UploadStart { name: "tags" })),
            // Nothing there.
            ("", None),
            ("alpine", None),
            ("alpine/", None),
            ("manifests/latest", None),
            ("/manifests/latest", None),
            ("a/manifests/", None),
            ("a/unknown/thing", None),
            ("/tags/list", None),
            ("a/uploads/xyz", None),
            ("blobs/uploads/xyz", None),
        ];
        for (path, expected) in cases {
            assert_eq!(parse(path), expected, "{path:?}");
        }
    }
}
