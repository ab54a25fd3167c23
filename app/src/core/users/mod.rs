//! Accounts: managing them ([`UserService`]), the rules and hashing for
//! their passwords, and the SQL that stores users and their groups. The
//! [`User`](crate::core::identity::User) type itself is part of
//! [`identity`](crate::core::identity), below every service.

mod password;
mod repository;
mod service;

pub use password::{PASSWORD_LENGTH, PasswordHasherPool, validate_chosen_secret, validate_password};
pub(crate) use repository::UserRow;
pub use repository::{ExternalUser, Group, NewUser, UserCredentials, UserRepository};
pub use service::{ADMIN_USERNAME, AdminBootstrap, NewAccount, UserService, user_event};
