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

use super::Decision;
use crate::core::rbac::Action;

/// How long a decision about a token holder is trusted before it is asked again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(2);

/// Most decisions remembered: holder names and project names are at most
/// a few hundred bytes, so this bounds the memory to a few megabytes however
/// many distinct tokens clients present.
const CAPACITY: usize = 10_000;

type Key = (String, String, Action);

/// Decisions about (holder, project, action) made less than [`RECHECK_AFTER`] ago.
#[derive(Clone, Debug, Default)]
pub struct RecentDecisions {
    decided: Arc<Mutex<HashMap<Key, (Instant, Decision)>>>,
}

impl RecentDecisions {
    /// The decision about `holder` doing `action` in `project`, if one was made recently.
    pub fn get(&self, holder: &str, project: &str, action: Action) -> Option<Decision> {
        let decided = self.decided.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A lookup by borrowed parts would need a custom key type; the two
        // short strings cost less than the query this saves.
        let (at, decision) = decided.get(&(holder.to_owned(), project.to_owned(), action))?;
        (at.elapsed() < RECHECK_AFTER).then_some(*decision)
    }

    /// Remembers a decision just made. When full, forgets what has expired,
    /// and everything if nothing has: the cost is one query per holder.
    pub fn remember(&self, holder: &str, project: &str, action: Action, decision: Decision) {
        let mut decided = self.decided.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if decided.len() >= CAPACITY {
            decided.retain(|_, (at, _)| at.elapsed() < RECHECK_AFTER);
            if decided.len() >= CAPACITY {
                decided.clear();
            }
        }
        decided.insert((holder.to_owned(), project.to_owned(), action), (Instant::now(), decision));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.decided.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_expire_and_memory_stays_bounded() {
        let recent = RecentDecisions::default();
        recent.remember("alice", "team", Action::Push, Decision::Allowed);
        assert_eq!(recent.get("alice", "team", Action::Push), Some(Decision::Allowed));
        assert_eq!(recent.get("alice", "team", Action::Pull), None);
        assert_eq!(recent.get("bob", "team", Action::Push), None);

        // An expired decision is not used.
        recent.decided.lock().unwrap().values_mut().for_each(|(at, _)| *at -= RECHECK_AFTER);
        assert_eq!(recent.get("alice", "team", Action::Push), None);

        for n in 0..CAPACITY * 3 {
            recent.remember(&format!("holder-{n}"), "team", Action::Pull, Decision::Denied);
            assert!(recent.len() <= CAPACITY);
        }
        let last = format!("holder-{}", CAPACITY * 3 - 1);
        assert_eq!(recent.get(&last, "team", Action::Pull), Some(Decision::Denied));
    }
}
