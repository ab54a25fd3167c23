//! The storage keys: `storage` chooses the filesystem or S3-compatible
//! object storage, and the `s3_*` keys say where the bucket is.

use std::{collections::BTreeMap, path::Path};

use app::core::storage::{S3Settings, StorageSettings};

use super::{
    Error, Origin, Sources,
    values::{boolean, non_empty, parse_external_url},
};

/// The storage keys as parsed, before defaults and cross-key checks.
pub(super) struct StorageChoice {
    s3: bool,
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    virtual_hosted_style: Option<bool>,
    redirect: Option<bool>,
}

impl Sources {
    pub(super) fn take_storage(&mut self, o: &mut BTreeMap<&'static str, Origin>) -> Result<StorageChoice, Error> {
        let s3 = self.take("storage", o, |s| match s.trim() {
            "filesystem" => Ok(false),
            "s3" => Ok(true),
            _ => Err("expected `filesystem` or `s3`".to_owned()),
        })?;
        Ok(StorageChoice {
            s3: s3.unwrap_or(false),
            endpoint: self.take("s3_endpoint", o, |s| {
                let url = parse_external_url(s)?;
                if url.path() != "/" {
                    return Err("expected scheme://host[:port] without a path".to_owned());
                }
                Ok(url.origin().ascii_serialization())
            })?,
            region: self.take("s3_region", o, non_empty)?,
            bucket: self.take("s3_bucket", o, non_empty)?,
            prefix: self.take("s3_prefix", o, |s| Ok(s.trim().trim_matches('/').to_owned()))?,
            access_key_id: self.take("s3_access_key_id", o, non_empty)?,
            secret_access_key: self.take("s3_secret_access_key", o, non_empty)?,
            virtual_hosted_style: self.take("s3_virtual_hosted_style", o, boolean)?,
            redirect: self.take("s3_redirect", o, boolean)?,
        })
    }
}

impl StorageChoice {
    /// The settings, with defaults; S3 needs a bucket.
    pub(super) fn settings(
        self,
        data_dir: &Path,
        origins: &BTreeMap<&'static str, Origin>,
    ) -> Result<StorageSettings, Error> {
        if !self.s3 {
            return Ok(StorageSettings::Filesystem { root: data_dir.join("storage") });
        }
        let Some(bucket) = self.bucket else {
            let origin = origins["storage"].clone();
            return Err(Error::Invalid { key: "storage", origin, message: "`s3` needs `s3_bucket`".to_owned() });
        };
        Ok(StorageSettings::S3(S3Settings {
            endpoint: self.endpoint,
            region: self.region.unwrap_or_else(|| "us-east-1".to_owned()),
            bucket,
            prefix: self.prefix.unwrap_or_default(),
            access_key_id: self.access_key_id,
            secret_access_key: self.secret_access_key,
            virtual_hosted_style: self.virtual_hosted_style.unwrap_or(false),
            redirect_pulls: self.redirect.unwrap_or(false),
        }))
    }
}

/// The storage keys' effective values for `berth config`, secrets redacted.
pub(super) fn describe(storage: &StorageSettings) -> [(&'static str, Option<String>); 9] {
    let s3 = match storage {
        StorageSettings::S3(s3) => Some(s3),
        StorageSettings::Filesystem { .. } => None,
    };
    let kind = if s3.is_some() { "s3" } else { "filesystem" };
    [
        ("storage", Some(kind.to_owned())),
        ("s3_endpoint", s3.and_then(|s3| s3.endpoint.clone())),
        ("s3_region", s3.map(|s3| s3.region.clone())),
        ("s3_bucket", s3.map(|s3| s3.bucket.clone())),
        ("s3_prefix", s3.map(|s3| s3.prefix.clone())),
        ("s3_access_key_id", s3.and_then(|s3| s3.access_key_id.clone())),
        ("s3_secret_access_key", s3.and_then(|s3| s3.secret_access_key.as_ref().map(|_| "********".to_owned()))),
        ("s3_virtual_hosted_style", s3.map(|s3| s3.virtual_hosted_style.to_string())),
        ("s3_redirect", s3.map(|s3| s3.redirect_pulls.to_string())),
    ]
}
