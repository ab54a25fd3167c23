//! The portal's server functions: thin wrappers that authenticate the caller,
//! call one core service method and shape the answer for the UI. The types
//! here travel to the browser, so they compile for both targets.

pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod cleanup;
pub mod configuration;
pub mod dashboard;
pub mod error;
pub mod immutability;
pub mod logs;
pub mod members;
pub mod numbered;
pub mod profile;
pub mod projects;
pub mod quotas;
pub mod reference;
pub mod replication;
pub mod retention;
pub mod robots;
pub mod search;
#[cfg(feature = "ssr")]
pub mod session;
pub mod system;
pub mod users;

pub use error::AppError;

/// URL prefix of every server function, kept apart from `/api/v2.0` (REST) and `/v2` (registry).
pub const SERVER_FN_PREFIX: &str = "/portal/fn";
