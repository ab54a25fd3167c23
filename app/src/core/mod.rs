//! The server-side core shared by the portal's server functions and the `/v2` API:
//! domain types, services, repositories (all SQL) and storage. Calls go
//! handler → service → repository/storage, never the other way.

pub mod access;
pub mod artifacts;
pub mod auth;
pub mod cache;
pub mod db;
pub mod error;
pub mod events;
pub mod gc;
pub mod identity;
pub mod immutability;
pub mod jobs;
pub mod load;
pub mod projects;
pub mod rbac;
pub mod registry;
pub mod replication;
pub mod retention;
pub mod robots;
pub mod selectors;
pub mod settings;
pub mod state;
pub mod storage;
pub mod system;
pub mod users;

pub use error::{Error, Result};
pub use state::AppState;
