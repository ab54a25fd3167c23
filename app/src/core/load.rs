//! How busy this node is serving requests. Background work that competes
//! with them for the same cores (garbage collection) paces itself by it,
//! so pushes and pulls keep most of the machine while it runs.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

/// Requests this node is serving now; the edge enters one per request.
#[derive(Clone, Debug, Default)]
pub struct Load(Arc<AtomicUsize>);

impl Load {
    /// Counts a request until the guard is dropped.
    pub fn enter(&self) -> Serving {
        self.0.fetch_add(1, Ordering::Relaxed);
        Serving(self.0.clone())
    }

    pub fn serving(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One request being served.
pub struct Serving(Arc<AtomicUsize>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_requests_until_their_guards_go() {
        let load = super::Load::default();
        let first = load.enter();
        let second = load.enter();
        assert_eq!(load.serving(), 2);
        drop(first);
        drop(second);
        assert_eq!(load.serving(), 0);
    }
}
