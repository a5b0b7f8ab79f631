//! Hashing and committing the subtries below a root branch on several threads.
//!
//! The sixteen subtries under a branch root are independent: each one's hash and new nodes
//! depend on nothing outside it. A big change (a block touching thousands of accounts) is
//! hashed on all cores, then committed on all cores with each subtrie's nodes given exactly
//! the locations a one-thread commit would give them: the nodes to commit under each child are
//! counted once the subtries are hashed, so every thread knows where its first node goes. The
//! result, nodes and order included, is the same as on one thread.

use super::{
    node::{Committer, Node, NodeRef, Reference},
    store::{CommittedNode, Location},
};
use std::sync::OnceLock;

/// Fewest changed nodes below the root for which the work is split: below it, starting threads
/// costs more than it saves.
const MIN_CHANGED_NODES: usize = 512;

/// Hashes the subtries of the root in `slot` on several threads when the root is a branch with
/// enough changed nodes below it, so that hashing the root itself afterwards only encodes it.
/// With `commit`, also commits them (see [`NodeRef::reference`]): the committer then holds
/// their nodes, in the order and at the locations one thread would have produced.
pub(crate) fn hash_root_children(slot: &mut NodeRef, commit: Option<&mut Committer>) {
    hash_root_children_on(slot, commit, threads());
}

fn hash_root_children_on(slot: &mut NodeRef, commit: Option<&mut Committer>, threads: usize) {
    let NodeRef::Node(root) = slot else { return };
    if threads < 2 || (root.reference.is_some() && root.persisted) {
        return;
    }
    let Node::Branch { children, .. } = &mut root.node else { return };
    if changed_nodes(children.iter(), MIN_CHANGED_NODES) < MIN_CHANGED_NODES {
        return;
    }
    let per_thread = children.len().div_ceil(threads);
    // Hash: every changed node below gets its reference, and with it its encoded length.
    on_threads(children.chunks_mut(per_thread), |group| hash_group(group, None));
    let Some(committer) = commit else { return };
    // Commit: each group starts where the nodes of the groups before it end.
    let mut starts = Vec::with_capacity(threads);
    let mut next = committer.next;
    for group in children.chunks(per_thread) {
        starts.push(next);
        let count = group.iter().map(nodes_to_commit).sum::<usize>();
        next = next.saturating_add(count as u64);
    }
    let committed =
        on_threads(children.chunks_mut(per_thread).zip(starts), |(group, start)| commit_group(group, start));
    for mut nodes in committed {
        committer.nodes.append(&mut nodes);
    }
    committer.next = next;
}

/// Threads to spread hashing over: the machine's cores.
fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Runs `work` on each item, the first on this thread and the others on threads of their own,
/// and returns the results in the items' order.
fn on_threads<T: Send, R: Send>(items: impl Iterator<Item = T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let work = &work;
    std::thread::scope(|scope| {
        let mut items = items;
        let own = items.next();
        let handles: Vec<_> = items.map(|item| scope.spawn(move || work(item))).collect();
        let mut results = Vec::with_capacity(handles.len() + 1);
        results.extend(own.map(work));
        for handle in handles {
            results.push(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results
    })
}

fn hash_group(group: &mut [NodeRef], mut commit: Option<&mut Committer>) {
    let mut scratch = Vec::new();
    for child in group {
        child.reference(&mut scratch, commit.as_deref_mut(), false);
    }
}

fn commit_group(group: &mut [NodeRef], start: Location) -> Vec<CommittedNode> {
    let mut committer = Committer { nodes: Vec::new(), next: start };
    hash_group(group, Some(&mut committer));
    committer.nodes
}

/// Nodes below these slots that changed since they were last hashed, counting up to `limit`.
fn changed_nodes<'a>(slots: impl Iterator<Item = &'a NodeRef>, limit: usize) -> usize {
    let mut count = 0;
    for slot in slots {
        let NodeRef::Node(data) = slot else { continue };
        if data.reference.is_some() && data.persisted {
            continue;
        }
        count += 1 + changed_nodes(data.node.children(), limit - count.min(limit));
        if count >= limit {
            break;
        }
    }
    count
}

/// How many nodes committing the hashed `slot` will produce: the nodes not yet in the store
/// that a parent references by hash (an embedded node is stored inside its parent).
fn nodes_to_commit(slot: &NodeRef) -> usize {
    let NodeRef::Node(data) = slot else { return 0 };
    if data.persisted {
        return 0;
    }
    usize::from(matches!(data.reference, Some(Reference::Hash(_))))
        + data.node.children().map(nodes_to_commit).sum::<usize>()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::trie::Trie;
    use alloy_primitives::{Bytes, keccak256, map::B256Map};

    /// Commits `trie` as [`Trie::commit_located`] does, with the subtries on `threads` threads.
    fn commit_on(trie: &mut Trie<B256Map<Bytes>>, next: Location, threads: usize) -> Vec<CommittedNode> {
        let mut committer = Committer { nodes: Vec::new(), next };
        hash_root_children_on(&mut trie.root, Some(&mut committer), threads);
        trie.root.reference(&mut trie.scratch, Some(&mut committer), true);
        committer.nodes
    }

    #[test]
    fn threads_commit_what_one_thread_commits() {
        let key = |i: u32| keccak256(i.to_be_bytes());
        for threads in [2, 3, 16] {
            let mut one = Trie::empty(B256Map::<Bytes>::default());
            let mut many = Trie::empty(B256Map::<Bytes>::default());
            let mut next = Location::MIN;
            // A big first commit, then changes of a few keys and of many keys, some removed.
            for (round, (start, end)) in [(0, 5_000), (100, 110), (0, 3_000)].into_iter().enumerate() {
                for i in start..end {
                    let value = if round == 2 && i % 3 == 0 { Vec::new() } else { vec![round as u8 + 1; 40] };
                    one.insert(key(i).as_slice(), value.clone()).unwrap();
                    many.insert(key(i).as_slice(), value).unwrap();
                }
                let expected = commit_on(&mut one, next, 1);
                let committed = commit_on(&mut many, next, threads);
                assert_eq!(committed, expected, "{threads} threads, round {round}");
                assert_eq!(many.root_hash(), one.root_hash());
                next = expected.last().unwrap().location.saturating_add(1);
            }
        }
    }

    #[test]
    fn threads_hash_what_one_thread_hashes() {
        let mut one = Trie::empty(B256Map::<Bytes>::default());
        let mut many = Trie::empty(B256Map::<Bytes>::default());
        for i in 0..2_000u32 {
            let key = keccak256(i.to_le_bytes());
            one.insert(key.as_slice(), vec![7; 33]).unwrap();
            many.insert(key.as_slice(), vec![7; 33]).unwrap();
        }
        hash_root_children_on(&mut many.root, None, 2);
        assert_eq!(many.root_hash(), one.root.reference(&mut one.scratch, None, true).unwrap().hash());
    }
}
