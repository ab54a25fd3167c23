//! The registry domain: names, digests and (as it grows) manifests, the
//! service behind `/v2/` and its repositories.

pub mod digest;
pub mod names;
