//! Who holds the unix peers of the selected processes' sockets, when the
//! selection (`--pid`, `--comm`) walked only some processes: a filter
//! selects rows, it never changes one, so a peer held by a process left out
//! is still named `-> [PID FD]`, as in the whole listing.

use super::index::NumberMap;
use super::procfs::{self, Holder, Selection, Walk};
use super::record::{Kind, Peer, SockRecord};
use crate::error::Result;

/// The holders, among processes `walk` did not cover, of the peers its
/// unix sockets name, where the process holding a socket does not also hold
/// its peer (which then names it): every holder a whole listing could name
/// first (the lowest pid, then fd), so only processes below the holder
/// found so far are walked, and all of them for a peer not found at all.
///
/// # Errors
/// `/proc` itself unreadable.
pub fn holders_outside(walk: &Walk, records: &[SockRecord], threads: usize) -> Result<Vec<Holder>> {
    let peer_of: NumberMap<u64, u64> = records
        .iter()
        .filter_map(|record| match record.kind {
            Kind::Unix {
                peer: Peer::Inode(peer),
                ..
            } => Some((record.inode, peer)),
            _ => None,
        })
        .collect();
    let mut first: NumberMap<u64, u32> = NumberMap::default();
    let mut pairs: NumberMap<(u32, u64), ()> = NumberMap::default();
    for holder in &walk.holders {
        let pid = first.entry(holder.inode).or_insert(holder.pid);
        *pid = (*pid).min(holder.pid);
        pairs.insert((holder.pid, holder.inode), ());
    }
    let mut peers: NumberMap<u64, ()> = NumberMap::default();
    let mut below = 0;
    for holder in &walk.holders {
        if let Some(&peer) = peer_of.get(&holder.inode)
            && !pairs.contains_key(&(holder.pid, peer))
        {
            peers.insert(peer, ());
            below = below.max(first.get(&peer).copied().unwrap_or(u32::MAX));
        }
    }
    if peers.is_empty() {
        return Ok(Vec::new());
    }
    let walked: NumberMap<u32, ()> = walk.processes.iter().map(|p| (p.pid, ())).collect();
    let others: Vec<u32> = procfs::processes()?
        .into_iter()
        .filter(|pid| *pid < below && !walked.contains_key(pid))
        .collect();
    log::debug!(
        "{} unix peers to name: walking {} more processes",
        peers.len(),
        others.len()
    );
    let more = procfs::walk(Selection {
        pids: Some(&others),
        comm: None,
        threads,
        netns: None,
        found_netns: None,
    })?;
    Ok(more
        .holders
        .into_iter()
        .filter(|holder| peers.contains_key(&holder.inode))
        .collect())
}
