//! The fd walk and the sources at the same time, one source per network
//! namespace present: ours (or the one `--netns` names) from the start, and
//! each other one as soon as the walk meets its first process, so the cost
//! grows with the namespaces there are, not with the processes in them.

use super::Options;
use super::filter::Filter;
use super::index::NumberMap;
use super::loader::Loader;
use super::netns;
use super::procfs::{self, Selection, Walk};
use super::trust::Records;
use crate::error::{Error, Result};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, PoisonError};

/// What the walk and the sources found.
pub struct Gathered<'a> {
    /// The walk.
    pub walk: Walk,
    /// Each namespace's source and what it read.
    pub loaded: Vec<(Loader<'a>, Records)>,
    /// The namespace listed (ours, or `--netns`'s): the one `-a` covers.
    pub listed: Option<u64>,
    /// nsfs's device number, to tell namespaces in `/run/netns`.
    pub nsfs: Option<u64>,
}

/// A namespace the walk met first in process `pid`.
struct Found {
    inode: u64,
    pid: u32,
    ns: Option<OwnedFd>,
}

/// Tells the sources of each namespace the walk meets, once.
struct Discovery {
    seen: Mutex<NumberMap<u64, ()>>,
    tell: Sender<Found>,
}

impl Discovery {
    fn saw(&self, inode: u64, pid: u32, pid_dir: BorrowedFd<'_>) {
        let first = self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(inode, ())
            .is_none();
        if first {
            // Held open, the namespace outlives the process if it exits.
            let ns = netns::open_of_process(pid_dir).ok();
            let _ = self.tell.send(Found { inode, pid, ns });
        }
    }
}

/// Walks `selection`'s processes while the sources read each namespace's
/// tables: `filter` for the namespace listed, `held` (no `-a`) for others.
///
/// # Errors
/// `/proc` unreadable; the listed namespace's tables unreadable; a
/// `--netns` that names nothing or no network namespace.
pub fn gather<'a>(
    opts: &Options,
    filter: &'a Filter,
    held: &'a Filter,
    selection: Selection<'_>,
) -> Result<Gathered<'a>> {
    let own = netns::own();
    if let Err(errno) = own {
        log::debug!(
            "/proc/thread-self/ns/net: {}",
            crate::error::describe_errno(errno)
        );
    }
    let (nsfs, own_inode) = match own {
        Ok((nsfs, inode)) => (Some(nsfs), Some(inode)),
        Err(_) => (None, None),
    };
    let target = match (&opts.netns, own) {
        (None, _) => None,
        (Some(choice), Ok((nsfs, _))) => Some(netns::resolve(choice, nsfs)?),
        // Without our own, no file can be told to be a namespace.
        (Some(_), Err(errno)) => {
            return Err(Error::on("stat", "/proc/thread-self/ns/net", errno));
        }
    };
    let listed = target.as_ref().map_or(own_inode, |t| Some(t.inode));
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        let (tell, told) = channel();
        let source = scope.spawn(move || sources(opts, filter, held, target, own_inode, told));
        let walk = {
            let discovery = Discovery {
                seen: Mutex::new(NumberMap::default()),
                tell,
            };
            let found = |inode: u64, pid: u32, dir: BorrowedFd<'_>| discovery.saw(inode, pid, dir);
            procfs::walk(Selection {
                netns: listed.filter(|_| opts.netns.is_some()),
                found_netns: Some(&found),
                ..selection
            })
        };
        log::debug!("fd walk done in {:?}", started.elapsed());
        let loaded = source
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        log::debug!("socket records read in {:?}", started.elapsed());
        Ok(Gathered {
            walk: walk?,
            loaded: loaded?,
            listed,
            nsfs,
        })
    })
}

/// The listed namespace's source, read on a thread of its own, and one for
/// each namespace the walk tells of until it ends, read meanwhile: a
/// namespace the walk meets early is not held up behind the listed one's
/// dumps (each walks the whole established hash, shared by all namespaces).
fn sources<'a>(
    opts: &Options,
    filter: &'a Filter,
    held: &'a Filter,
    target: Option<netns::Target>,
    own: Option<u64>,
    told: Receiver<Found>,
) -> Result<Vec<(Loader<'a>, Records)>> {
    let (first, listed) = match target {
        Some(target) if Some(target.inode) != own => {
            let inode = target.inode;
            match Loader::inside(opts, filter, inode, target.fd, None) {
                Ok(Some(loader)) => (Some(loader), Some(inode)),
                Ok(None) => {
                    log::debug!("netns {}: waiting for a process in it", target.shown);
                    (None, Some(inode))
                }
                Err(_) => {
                    return Err(Error::Usage(format!(
                        "--netns {}: not a network namespace",
                        target.shown
                    )));
                }
            }
        }
        _ => (Some(Loader::here(opts, filter, own)), own),
    };
    let skip = first.as_ref().and(listed);
    std::thread::scope(|scope| {
        let first = first
            .map(|mut loader| scope.spawn(move || loader.load().map(|records| (loader, records))));
        let mut others: Vec<(Loader<'a>, Records)> = Vec::new();
        for found in told {
            if Some(found.inode) == skip || others.iter().any(|(l, _)| l.netns == Some(found.inode))
            {
                continue;
            }
            let filter = if Some(found.inode) == listed {
                filter
            } else {
                held
            };
            match Loader::inside(opts, filter, found.inode, found.ns, Some(found.pid)) {
                Ok(Some(mut loader)) => match loader.load() {
                    Ok(records) => others.push((loader, records)),
                    Err(err) => {
                        log::debug!("netns {}: {err}; its sockets stay unknown", found.inode);
                    }
                },
                Ok(None) | Err(_) => {
                    log::debug!("netns {}: no way in; its sockets stay unknown", found.inode);
                }
            }
        }
        let mut loaded = match first {
            Some(handle) => vec![
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            ],
            None => Vec::new(),
        };
        loaded.append(&mut others);
        let noun = if loaded.len() == 1 {
            "namespace"
        } else {
            "namespaces"
        };
        log::info!("{} network {noun} read", loaded.len());
        Ok(loaded)
    })
}
