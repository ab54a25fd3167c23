//! Which untagged manifests `delete_untagged` deletes, and in what order.
//!
//! A manifest is kept when it is tagged, was touched within the window
//! (a push in flight may be about to tag or include it), is included by a
//! kept index of its repository, or refers (`subject`) to a kept manifest
//! there: signatures and SBOMs stay with what they describe. The rest go,
//! holders before what they hold (an index before its images, a subject
//! before its referrers), so that each delete's own re-check, "nothing here
//! holds it any more", passes in its turn.

use std::collections::{HashMap, HashSet};

/// Candidates (untagged, untouched in the window) in the order they can be
/// deleted: each layer is held only by manifests of earlier layers. A
/// candidate held by anything that is not a candidate never appears.
pub fn deletion_layers(candidates: &[i64], holders: &[(i64, i64)]) -> Vec<Vec<i64>> {
    let mut held_by: HashMap<i64, Vec<i64>> = HashMap::new();
    for &(held, holder) in holders {
        held_by.entry(held).or_default().push(holder);
    }
    let mut remaining: Vec<i64> = candidates.to_vec();
    remaining.sort_unstable();
    remaining.dedup();
    let mut gone: HashSet<i64> = HashSet::new();
    let mut layers = Vec::new();
    loop {
        let (layer, rest): (Vec<i64>, Vec<i64>) = remaining.iter().partition(|&&id| {
            held_by.get(&id).is_none_or(|holders| holders.iter().all(|holder| gone.contains(holder)))
        });
        if layer.is_empty() {
            return layers;
        }
        gone.extend(&layer);
        layers.push(layer);
        remaining = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::deletion_layers;

    #[test]
    fn unheld_candidates_go_first_and_what_they_held_after() {
        // 1: an untagged index of 2 and 3; 4 refers to 2; 5 stands alone.
        let layers = deletion_layers(&[1, 2, 3, 4, 5], &[(2, 1), (3, 1), (4, 2)]);
        assert_eq!(layers, vec![vec![1, 5], vec![2, 3], vec![4]]);
    }

    #[test]
    fn what_a_kept_manifest_holds_is_kept_however_deep() {
        // 10 is tagged (not a candidate): it includes 1, which 2 refers to,
        // which 3 refers to. 4 is also in 10 and in the untagged index 5.
        let layers = deletion_layers(&[1, 2, 3, 4, 5], &[(1, 10), (2, 1), (3, 2), (4, 10), (4, 5)]);
        assert_eq!(layers, vec![vec![5]]);
    }

    #[test]
    fn nothing_to_delete_is_no_layers() {
        assert!(deletion_layers(&[], &[]).is_empty());
        assert!(deletion_layers(&[7], &[(7, 8)]).is_empty());
    }
}
