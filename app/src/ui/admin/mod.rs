//! The Administration area: system administrators only (the navigation
//! shows it to nobody else and its server functions refuse them).

mod cleanup;
mod execution;
mod policy_form;
mod registries;
mod replications;
mod runs;

pub use cleanup::CleanupPage;
pub use execution::ReplicationExecutionPage;
pub use registries::RegistriesPage;
pub use replications::ReplicationsPage;
