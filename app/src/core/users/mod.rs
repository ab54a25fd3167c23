//! Accounts in the database: the SQL that stores users and their groups.
//! The [`User`](crate::core::identity::User) type itself is part of
//! [`identity`](crate::core::identity), below every service.

mod repository;

pub(crate) use repository::UserRow;
pub use repository::{ExternalUser, Group, NewUser, UserCredentials, UserRepository};
