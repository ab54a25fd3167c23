//! Numbered pages (`?page=N`) as the Administration lists use them: one
//! page of rows and how many there are in all.

use serde::{Deserialize, Serialize};

/// Rows per page of every numbered list.
pub const PAGE_SIZE: u32 = 20;

/// One page of a list, with how many there are in all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// The rows of page `page` (from 1).
#[cfg(feature = "ssr")]
pub fn window(page: u32) -> crate::core::db::Window {
    crate::core::db::Window::new(page.max(1).saturating_sub(1).saturating_mul(PAGE_SIZE), PAGE_SIZE)
}

/// A checkbox's value as a form sends it: present when ticked.
#[cfg(feature = "ssr")]
pub fn ticked(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty() && v != "false")
}
