//! Recent decisions about registry token holders. A token lists what its
//! holder could do when it was issued; each `/v2` request also asks whether
//! the holder still may. Asking the database on every blob read would cost
//! a query per request, so a yes is remembered for [`RECHECK_AFTER`]:
//! a removal, demotion or deletion reaches `/v2` on every node within that
//! time, without nodes telling each other anything.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::core::{projects::id::ProjectId, rbac::Action};

/// How long a decision about a token holder is trusted before it is asked again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(2);

/// Most holders remembered: holder names and project names are at most
/// a few hundred bytes, so this bounds the memory to a few megabytes however
/// many distinct tokens clients present.
const CAPACITY: usize = 10_000;

type Key = (String, String, Action);

/// When (holder, project, action) was last found allowed, and the
/// project's id. Only a yes is kept: a right given counts at once, a right
/// taken away within [`RECHECK_AFTER`].
#[derive(Clone, Debug, Default)]
pub struct RecentlyAllowed {
    allowed: Arc<Mutex<HashMap<Key, (Instant, ProjectId)>>>,
}

impl RecentlyAllowed {
    /// The project's id, when `holder` was found allowed to do `action` in
    /// `project` less than [`RECHECK_AFTER`] ago.
    pub fn get(&self, holder: &str, project: &str, action: Action) -> Option<ProjectId> {
        let allowed = self.allowed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A lookup by borrowed parts would need a custom key type; the two
        // short strings cost less than the query this saves.
        let (at, id) = allowed.get(&(holder.to_owned(), project.to_owned(), action))?;
        (at.elapsed() < RECHECK_AFTER).then_some(*id)
    }

    /// Remembers a yes just decided. When full, forgets what has expired,
    /// and everything if nothing has: the cost is one query per holder.
    pub fn insert(&self, holder: &str, project: &str, action: Action, id: ProjectId) {
        let mut allowed = self.allowed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if allowed.len() >= CAPACITY {
            allowed.retain(|_, (at, _)| at.elapsed() < RECHECK_AFTER);
            if allowed.len() >= CAPACITY {
                allowed.clear();
            }
        }
        allowed.insert((holder.to_owned(), project.to_owned(), action), (Instant::now(), id));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.allowed.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_expire_and_memory_stays_bounded() {
        let recent = RecentlyAllowed::default();
        let team = ProjectId(7);
        recent.insert("alice", "team", Action::Push, team);
        assert_eq!(recent.get("alice", "team", Action::Push), Some(team));
        assert_eq!(recent.get("alice", "team", Action::Pull), None);
        assert_eq!(recent.get("bob", "team", Action::Push), None);

        // An expired decision is not used.
        recent.allowed.lock().unwrap().values_mut().for_each(|(at, _)| *at -= RECHECK_AFTER);
        assert_eq!(recent.get("alice", "team", Action::Push), None);

        for n in 0..CAPACITY * 3 {
            recent.insert(&format!("holder-{n}"), "team", Action::Pull, team);
            assert!(recent.len() <= CAPACITY);
        }
        let last = format!("holder-{}", CAPACITY * 3 - 1);
        assert_eq!(recent.get(&last, "team", Action::Pull), Some(team));
    }
}
