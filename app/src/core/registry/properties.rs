//! Property tests of the registry's parsers of client input: digests,
//! repository names, tags, references and manifests. Whatever a client
//! sends, parsing answers (never panics), and what is accepted obeys the
//! grammar. A bounded run here (proptest's 256 cases per property, and
//! `PROPTEST_CASES` for a longer one).

use std::str::FromStr;

use proptest::prelude::*;

use super::{
    digest::Digest,
    manifest,
    names::{Reference, RepoName, Tag},
};

proptest! {
    #[test]
    fn digests_parse_or_refuse_and_round_trip(raw in "\\PC{0,80}|sha(256|512):[0-9a-fA-F]{0,130}") {
        if let Ok(digest) = Digest::from_str(&raw) {
            prop_assert_eq!(Digest::from_str(&digest.to_string()).ok(), Some(digest.clone()));
            prop_assert!(digest.hex().len() == 64 || digest.hex().len() == 128);
        }
    }

    #[test]
    fn repository_names_obey_the_grammar(raw in "[a-z0-9._/-]{0,300}|\\PC{0,64}") {
        if let Ok(name) = RepoName::parse(&raw, "registry.example:5000") {
            prop_assert_eq!(name.as_str(), raw.as_str());
            prop_assert!("registry.example:5000/".len() + raw.len() <= 255);
            for part in raw.split('/') {
                prop_assert!(!part.is_empty());
                prop_assert!(part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()));
                prop_assert!(part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn tags_obey_the_grammar(raw in "[A-Za-z0-9._-]{0,140}|\\PC{0,40}") {
        if let Ok(tag) = Tag::parse(&raw) {
            prop_assert!(tag.as_str().len() <= 128);
            prop_assert!(!tag.as_str().starts_with(['.', '-']));
            prop_assert!(tag.as_str().chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        }
    }

    #[test]
    fn references_parse_or_refuse(raw in "\\PC{0,200}") {
        let _ = Reference::parse(&raw);
    }

    #[test]
    fn manifests_parse_or_refuse(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        content_type in proptest::option::of("application/vnd\\.(oci|docker)\\.[a-z.+0-9]{0,40}|\\PC{0,20}"),
    ) {
        let _ = manifest::parse(&body, content_type.as_deref());
    }

    #[test]
    fn json_shaped_manifests_parse_or_refuse(
        layers in proptest::collection::vec("\\PC{0,80}", 0..8),
        media_type in "\\PC{0,60}",
    ) {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":{media_type:?},"config":{{"mediaType":"x","digest":{:?},"size":1}},"layers":[{}]}}"#,
            layers.first().cloned().unwrap_or_default(),
            layers.iter().map(|l| format!(r#"{{"digest":{l:?},"size":-1,"mediaType":"y"}}"#)).collect::<Vec<_>>().join(","),
        );
        let _ = manifest::parse(body.as_bytes(), Some("application/vnd.oci.image.manifest.v1+json"));
    }
}

/// JSON nested far deeper than any manifest is refused, not a stack overflow.
#[test]
fn deeply_nested_json_is_refused() {
    for depth in [200, 10_000, 100_000] {
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(manifest::parse(body.as_bytes(), Some("application/vnd.oci.image.manifest.v1+json")).is_err());
        let body = format!(r#"{{"schemaVersion":2,"annotations":{}1{}}}"#, r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert!(manifest::parse(body.as_bytes(), None).is_err());
    }
}
