//! Accounts: managing them ([`UserService`]), the rules and hashing for
//! their passwords, and the SQL that stores users and their groups. The
//! [`User`](crate::core::identity::User) type itself is part of
//! [`identity`](crate::core::identity), below every service.

mod password;
mod repository;
mod service;

pub use password::{PASSWORD_LENGTH, PasswordHasherPool, validate_chosen_secret, validate_password};
pub use repository::{ExternalUser, Group, NewUser, UserCredentials, UserRepository};
pub(crate) use repository::{UserRow, refresh_external, sync_groups};
pub use service::{ADMIN_USERNAME, AdminBootstrap, NewAccount, UserService, user_event};
