//! The Administration area: system administrators only (the navigation
//! shows it to nobody else and its server functions refuse them).

mod cleanup;
mod runs;

pub use cleanup::CleanupPage;
