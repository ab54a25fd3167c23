//! Reading and validating pushed manifests: OCI image manifests and indexes,
//! Docker schema 2 manifests and manifest lists. Schema 1 is refused. What a
//! manifest needs (blobs, child manifests) and what it says about itself
//! (artifact type, subject, annotations) is extracted here, once.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// The manifest media types Berth stores and serves.
pub const SUPPORTED_MEDIA_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidManifest(pub String);

fn invalid(message: impl Into<String>) -> InvalidManifest {
    InvalidManifest(message.into())
}

/// What one manifest refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Needed {
    /// A config or layer blob that must be in the repository.
    Blob(Digest),
    /// A child manifest of an index that must be in the repository.
    Manifest(Digest),
}

/// A manifest that passed validation, with what the registry records about it.
#[derive(Clone, Debug)]
pub struct ParsedManifest {
    pub media_type: &'static str,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    /// The manifest's annotations as JSON text, when it has any.
    pub annotations: Option<String>,
    pub needs: Vec<Needed>,
}

/// A manifest's JSON as stored: every field Berth reads, none checked.
/// [`parse`] checks a pushed one; [`Manifest::read`] reads one the
/// registry stored (the registry, artifact pages and the portal all read
/// manifests through it).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: Option<i64>,
    pub media_type: Option<String>,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    pub layers: Option<Vec<Descriptor>>,
    pub manifests: Option<Vec<Descriptor>>,
    pub subject: Option<Descriptor>,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A descriptor: a config, a layer, an index entry or a subject.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: Option<String>,
    pub digest: Option<String>,
    pub size: Option<i64>,
    pub urls: Option<Vec<String>>,
    /// An index entry's platform; one that does not read as a platform is
    /// left out rather than refusing the manifest (the specification lets
    /// registries ignore it).
    #[serde(default, deserialize_with = "lenient")]
    pub platform: Option<Platform>,
}

/// The platform of an index entry.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Platform {
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
}

impl Platform {
    /// `os/architecture[/variant]`, when both are given.
    pub fn label(&self) -> Option<String> {
        let (os, arch) = (self.os.as_deref()?, self.architecture.as_deref()?);
        Some(match &self.variant {
            Some(variant) => format!("{os}/{arch}/{variant}"),
            None => format!("{os}/{arch}"),
        })
    }
}

/// Reads a value that may be malformed as absent.
fn lenient<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

impl Manifest {
    /// Reads a manifest the registry stored (and so checked when it was
    /// pushed); `None` for content that is not one.
    pub fn read(content: &[u8]) -> Option<Self> {
        serde_json::from_slice(content).ok()
    }

    /// The image config's digest, for an image manifest.
    pub fn config_digest(&self) -> Option<Digest> {
        self.config.as_ref()?.digest.as_deref()?.parse().ok()
    }

    /// An image manifest's layers (none for an index).
    pub fn layers(&self) -> &[Descriptor] {
        self.layers.as_deref().unwrap_or_default()
    }

    /// An index's entries (none for an image manifest).
    pub fn children(&self) -> &[Descriptor] {
        self.manifests.as_deref().unwrap_or_default()
    }

    /// `os/architecture[/variant]` of each entry of an index that names a
    /// real platform (attestation entries say `unknown/unknown`), in order.
    pub fn platforms(&self) -> Vec<String> {
        self.children()
            .iter()
            .filter_map(|child| child.platform.as_ref()?.label())
            .filter(|platform| platform != "unknown/unknown")
            .collect()
    }
}

/// Stored manifest content, indented for people to read (as it is, when
/// it is not JSON).
pub fn indented(content: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(content)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(content).into_owned())
}

impl Descriptor {
    /// The digest of a descriptor that is whole: it has a media type, a
    /// digest and a size. `what` names it in the refusal.
    fn digest(&self, what: &str) -> Result<Digest, InvalidManifest> {
        let raw = self.digest.as_deref().ok_or_else(|| invalid(format!("{what} has no digest")))?;
        if self.media_type.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(format!("{what} has no mediaType")));
        }
        match self.size {
            Some(size) if size >= 0 => {}
            _ => return Err(invalid(format!("{what} has no valid size"))),
        }
        raw.parse().map_err(|e| invalid(format!("{what}: {e}")))
    }
}

/// Validates `body` as a manifest. `content_type` is the request's
/// `Content-Type`; when the body names its own `mediaType` the two must agree.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<ParsedManifest, InvalidManifest> {
    let raw: Manifest = serde_json::from_slice(body).map_err(|e| invalid(format!("not a JSON manifest: {e}")))?;
    let content_type = content_type.map(|c| c.split(';').next().unwrap_or(c).trim()).filter(|c| !c.is_empty());
    let declared = match (raw.media_type.as_deref(), content_type) {
        (Some(body_type), Some(header)) if body_type != header => {
            return Err(invalid(format!("mediaType {body_type} does not match Content-Type {header}")));
        }
        (Some(body_type), _) => body_type.to_owned(),
        (None, Some(header)) => header.to_owned(),
        (None, None) if raw.manifests.is_some() => OCI_INDEX.to_owned(),
        (None, None) => OCI_MANIFEST.to_owned(),
    };
    if DOCKER_SCHEMA1.contains(&declared.as_str()) {
        return Err(invalid("Docker schema 1 manifests are not supported; push schema 2 or OCI"));
    }
    let media_type = SUPPORTED_MEDIA_TYPES
        .into_iter()
        .find(|t| *t == declared)
        .ok_or_else(|| invalid(format!("unsupported manifest media type {declared}")))?;
    if raw.schema_version != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let is_index = matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST);
    let mut needs = Vec::new();
    let mut config_media_type = None;
    if is_index {
        if raw.config.is_some() || raw.layers.is_some() {
            return Err(invalid("an index has manifests, not config or layers"));
        }
        let manifests = raw.manifests.as_ref().ok_or_else(|| invalid("an index needs a manifests list"))?;
        for (i, child) in manifests.iter().enumerate() {
            needs.push(Needed::Manifest(child.digest(&format!("manifests[{i}]"))?));
        }
    } else {
        if raw.manifests.is_some() {
            return Err(invalid("an image manifest has config and layers, not manifests"));
        }
        let config = raw.config.as_ref().ok_or_else(|| invalid("an image manifest needs a config"))?;
        needs.push(Needed::Blob(config.digest("config")?));
        config_media_type = config.media_type.clone();
        for (i, layer) in raw.layers.iter().flatten().enumerate() {
            let digest = layer.digest(&format!("layers[{i}]"))?;
            // Foreign layers live at their URLs, not in the registry.
            if layer.urls.as_ref().is_none_or(Vec::is_empty) {
                needs.push(Needed::Blob(digest));
            }
        }
        if raw.layers.is_none() && matches!(media_type, DOCKER_MANIFEST) {
            return Err(invalid("a Docker schema 2 manifest needs layers"));
        }
    }
    let subject = raw.subject.as_ref().map(|s| s.digest("subject")).transpose()?;
    // Referrers report the config's media type when no artifactType is set.
    let artifact_type = raw.artifact_type.clone().or(if is_index { None } else { config_media_type });
    let annotations = raw
        .annotations
        .as_ref()
        .filter(|a| !a.is_empty())
        .map(|a| serde_json::to_string(a).expect("a string map serializes"));
    Ok(ParsedManifest { media_type, artifact_type, subject, annotations, needs })
}

/// Whether an `Accept` header lets the client receive `media_type`. No
/// header, or a wildcard, accepts everything.
pub fn accepts(accept: &[&str], media_type: &str) -> bool {
    let mut listed = accept.iter().flat_map(|value| value.split(',')).map(|v| v.split(';').next().unwrap_or("").trim());
    let mut any_listed = false;
    let matched = listed.any(|candidate| {
        any_listed |= !candidate.is_empty();
        candidate == media_type || candidate == "*/*" || candidate == "application/*"
    });
    matched || !any_listed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    #[test]
    fn image_manifest_needs_config_and_layers() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":10}}],"annotations":{{"a":"b"}}}}"#,
            d(1),
            d(2)
        );
        let parsed = parse(body.as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(parsed.media_type, OCI_MANIFEST);
        assert_eq!(parsed.needs, vec![Needed::Blob(d(1).parse().unwrap()), Needed::Blob(d(2).parse().unwrap())]);
        assert_eq!(parsed.artifact_type.as_deref(), Some("application/vnd.oci.image.config.v1+json"));
        assert_eq!(parsed.annotations.as_deref(), Some(r#"{"a":"b"}"#));
        assert!(parsed.subject.is_none());
    }

    #[test]
    fn artifact_with_subject() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.sbom","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":100}}}}"#,
            d(3),
            d(4)
        );
        let parsed = parse(body.as_bytes(), None).unwrap();
        assert_eq!(parsed.artifact_type.as_deref(), Some("application/vnd.example.sbom"));
        assert_eq!(parsed.subject, Some(d(4).parse().unwrap()));
    }

    #[test]
    fn index_needs_children() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":7,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            d(5)
        );
        let parsed = parse(body.as_bytes(), Some(OCI_INDEX)).unwrap();
        assert_eq!(parsed.needs, vec![Needed::Manifest(d(5).parse().unwrap())]);
        assert_eq!(parsed.artifact_type, None);
    }

    #[test]
    fn refusals() {
        let good_config = format!(r#""config":{{"mediaType":"x","digest":"{}","size":2}}"#, d(1));
        let cases = [
            ("not json".to_owned(), None),
            (format!(r#"{{"schemaVersion":1,"mediaType":"{OCI_MANIFEST}",{good_config}}}"#), None),
            (format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",{good_config}}}"#), Some(OCI_INDEX)),
            (r#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#.to_owned(), Some(DOCKER_SCHEMA1[1])),
            (format!(r#"{{"schemaVersion":2,"mediaType":"text/plain",{good_config}}}"#), None),
            (format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}"}}"#), None),
            (
                format!(
                    r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"x","digest":"sha256:12","size":2}}}}"#
                ),
                None,
            ),
            (
                format!(
                    r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"x","digest":"{}"}}}}"#,
                    d(1)
                ),
                None,
            ),
            (format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}"}}"#), None),
            (format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}",{good_config}}}"#), None),
        ];
        for (body, content_type) in cases {
            assert!(parse(body.as_bytes(), content_type).is_err(), "{body} / {content_type:?} should be refused");
        }
    }

    #[test]
    fn content_negotiation() {
        assert!(accepts(&[], OCI_MANIFEST));
        assert!(accepts(&["*/*"], OCI_MANIFEST));
        assert!(accepts(&[DOCKER_MANIFEST, OCI_MANIFEST], OCI_MANIFEST));
        assert!(accepts(&["application/json, application/vnd.oci.image.index.v1+json;q=0.9"], OCI_INDEX));
        assert!(!accepts(&[DOCKER_MANIFEST], OCI_MANIFEST));
    }
}
