//! Every record the listing needs: each namespace's tables from its
//! source ([`Loader`]), the `/proc/net/unix` lines in doubt weighed
//! ([`trust::settle`]), and tables read again for sockets an fd holds that
//! a read missed.
//!
//! Neither source is atomic: a netlink dump and a `/proc/net` read both
//! walk the kernel's hash buckets a batch (a page) at a time and resume by
//! position, so a socket that stays open all along can be skipped when
//! others in its bucket close in between (a process holding 6,000 steady
//! unix sockets beside a churning one was listed one short in about one
//! run in four, on either source).

use super::index::NumberMap;
use super::links;
use super::loader::Loader;
use super::procfs::{self, Walk};
use super::record::{SockRecord, Table};
use super::trust::{self, Records};

/// Held sockets missing from their tables beyond this many are not looked
/// into: a listing narrowed to a few tables leaves out every socket of the
/// others, and asking the kernel about each would cost a path lookup per fd.
const REPAIR_MAX: usize = 512;
/// Reads of a table for the sockets it missed, after the first.
const REREADS: usize = 3;

/// What the kernel says, through the fds that hold them, about sockets the
/// tables leave in doubt; each socket asked about once.
struct Kernel {
    /// One holder of each socket inode.
    holder: NumberMap<u64, (u32, u32)>,
    answers: NumberMap<u64, Option<Table>>,
    /// Each walked process's network namespace.
    netns: NumberMap<u32, Option<u64>>,
}

impl Kernel {
    fn new(walk: &Walk) -> Self {
        let mut holder = NumberMap::default();
        holder.reserve(walk.holders.len());
        for h in &walk.holders {
            holder.entry(h.inode).or_insert((h.pid, h.fd));
        }
        Self {
            holder,
            answers: NumberMap::default(),
            netns: walk.processes.iter().map(|p| (p.pid, p.netns)).collect(),
        }
    }

    /// Whether socket `inode` is held by a process of namespace `netns`
    /// (or one whose namespace we could not tell).
    fn held_in(&self, inode: u64, netns: Option<u64>) -> bool {
        let holder_ns = self
            .holder
            .get(&inode)
            .and_then(|(pid, _)| self.netns.get(pid).copied().flatten());
        holder_ns.is_none() || holder_ns == netns
    }

    /// The table that lists `inode`, if a visible fd holds it.
    fn table_of(&mut self, inode: u64) -> Option<Table> {
        let holder = self.holder.get(&inode).copied()?;
        *self
            .answers
            .entry(inode)
            .or_insert_with(|| procfs::socket_table(holder.0, holder.1, inode))
    }
}

/// The records to join: each namespace's records settled, tables read
/// again for held sockets they missed, devices named; each record marked
/// with its namespace.
pub fn complete(loaded: Vec<(Loader<'_>, Records)>, walk: &Walk) -> Vec<SockRecord> {
    let mut kernel = Kernel::new(walk);
    let mut settled: Vec<(Loader<'_>, Vec<SockRecord>)> = loaded
        .into_iter()
        .map(|(loader, records)| {
            let kept = trust::settle(records, |inode| kernel.table_of(inode) == Some(Table::Unix));
            (loader, kept)
        })
        .collect();
    let mut listed: NumberMap<u64, ()> = NumberMap::default();
    listed.reserve(settled.iter().map(|(_, kept)| kept.len()).sum());
    for (_, kept) in &settled {
        listed.extend(kept.iter().map(|r| (r.inode, ())));
    }
    let mut all: Vec<SockRecord> = Vec::new();
    for (loader, kept) in &mut settled {
        // With -l, -c or -p a held socket is missing from a table because
        // the filter left it out as often as because a read missed it:
        // only the record could tell, so there is nothing to look for.
        if loader.filter.keeps_whole_tables() {
            reread_missed(loader, &mut kernel, &listed, kept);
        }
        name_devices(loader, kept);
        for record in kept.iter_mut() {
            record.details.netns = loader.netns;
        }
        if all.is_empty() {
            core::mem::swap(&mut all, kept);
        } else {
            all.append(kept);
        }
    }
    all
}

/// Each bound device's name, from the namespace the records came from; a
/// device with no name to be had shows by its index.
fn name_devices(loader: &Loader<'_>, records: &mut [SockRecord]) {
    let bound = || {
        records
            .iter()
            .filter_map(|r| r.details.dev.filter(|&dev| dev != 0))
    };
    if bound().next().is_none() {
        return;
    }
    let names = match &loader.route {
        Some(route) => links::names(route, bound()),
        None => NumberMap::default(),
    };
    for record in records.iter_mut() {
        if let Some(dev) = record.details.dev.filter(|&dev| dev != 0) {
            record.details.dev_name =
                Some(names.get(&dev).cloned().unwrap_or_else(|| dev.to_string()));
        }
    }
}

/// Reads a table again, up to [`REREADS`] times, while a socket a visible
/// fd holds is missing from it, and adds what the reads find.
fn reread_missed(
    loader: &mut Loader<'_>,
    kernel: &mut Kernel,
    listed: &NumberMap<u64, ()>,
    records: &mut Vec<SockRecord>,
) {
    let missing: Vec<u64> = kernel
        .holder
        .keys()
        .copied()
        .filter(|inode| {
            !listed.contains_key(inode)
                && loader.filter.wants_inode(*inode)
                && kernel.held_in(*inode, loader.netns)
        })
        .collect();
    if missing.len() > REPAIR_MAX {
        log::debug!(
            "{} held sockets in no table read; not looked into",
            missing.len()
        );
        return;
    }
    let wanted: Vec<Table> = loader.filter.tables().collect();
    let mut lost: NumberMap<u64, Table> = missing
        .into_iter()
        .filter_map(|inode| Some((inode, kernel.table_of(inode)?)))
        .filter(|(_, table)| wanted.contains(table))
        .collect();
    for _ in 0..REREADS {
        let tables: Vec<Table> = wanted
            .iter()
            .copied()
            .filter(|table| lost.values().any(|t| t == table))
            .collect();
        if tables.is_empty() {
            return;
        }
        for table in tables {
            let again = match loader.table(table) {
                Ok(again) => again,
                Err(err) => {
                    log::debug!("{err}; the sockets it missed stay unknown");
                    return;
                }
            };
            let found = Records {
                sure: again
                    .sure
                    .into_iter()
                    .filter(|r| lost.contains_key(&r.inode))
                    .collect(),
                doubtful: again
                    .doubtful
                    .into_iter()
                    .filter(|r| lost.contains_key(&r.inode))
                    .collect(),
            };
            // What is left in `lost` is the kernel's word already: a unix
            // socket, of this table.
            let found = trust::settle(found, |inode| lost.get(&inode) == Some(&Table::Unix));
            log::debug!(
                "{}: {} of the sockets a read missed found again",
                table.name(),
                found.len()
            );
            for record in found {
                lost.remove(&record.inode);
                records.push(record);
            }
        }
    }
    if !lost.is_empty() {
        log::debug!(
            "{} held sockets still in no table after {REREADS} more reads (closed, or made in \
             another network namespace)",
            lost.len()
        );
    }
}
