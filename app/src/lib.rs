//! Berth's portal and core.
//!
//! - [`ui`]: the Leptos pages and components (server-rendered, hydrated in the browser);
//! - [`api`]: the server functions the pages call, and the types they exchange;
//! - `core` (server only): domain types, services, repositories and storage,
//!   shared with the `/v2` registry API in the `server` crate.

#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod core;
pub mod ui;

pub use ui::{App, shell};
