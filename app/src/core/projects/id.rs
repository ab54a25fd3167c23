//! A project's database id, on its own so that access grants can carry one
//! without depending on the project service.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct ProjectId(pub i64);
