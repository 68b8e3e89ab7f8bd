//! `sockstat`: every socket fd, its inode, and the kernel's record of it.
//!
//! The fd walk ([`procfs`]) finds which processes hold which socket inodes;
//! a source ([`netlink`] by default, [`procnet`] as the fallback) says what
//! each inode is; [`rows`] joins the two, [`table`] or [`json`] prints them.
//! The walk and the source run at the same time.

pub mod chunked;
pub mod ending;
pub mod explain;
pub mod explain_text;
pub mod fdinfo;
pub mod filter;
pub mod gather;
pub mod index;
pub mod internals;
pub mod json;
pub mod kill;
pub mod links;
pub mod loader;
pub mod netlink;
pub mod netns;
pub mod options;
pub mod origin;
pub mod peers;
pub mod procfs;
pub mod procnet;
pub mod record;
pub mod records;
pub mod rows;
pub mod table;
pub mod tree;
pub mod trust;
pub mod users;

#[cfg(test)]
pub(crate) mod testing;

use crate::error::Result;
use filter::Filter;
pub use options::{Options, Source};

/// Lists the sockets `asked` selects on stdout; explains them
/// (`--explain`) or ends them (`--kill`).
///
/// # Errors
/// `/proc` unreadable, no source of socket records at all, or stdout
/// failing ([`Error::StdoutClosed`] for a reader that went away);
/// `--kill`'s usage errors and failures ([`kill::run`]).
pub fn run(asked: &Options) -> Result<()> {
    let adjusted = if asked.kill {
        kill::selection(asked)?
    } else if asked.explain {
        explain::selection(asked)
    } else {
        asked.clone()
    };
    let opts = &adjusted;
    let filter = Filter::new(opts);
    // Beyond a few threads the walk is bound by the kernel's locks, not CPUs.
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(16);
    let selection = procfs::Selection {
        pids: opts.pids.as_deref(),
        comm: opts.comm.as_deref().map(str::as_bytes),
        threads,
        netns: None,
        found_netns: None,
    };
    let held = filter.held_only();
    let started = std::time::Instant::now();
    let gathered = gather::gather(opts, &filter, &held, selection)?;
    let walk = gathered.walk;
    let mut records = records::complete(gathered.loaded, &walk);
    log::debug!("records settled at {:?}", started.elapsed());
    let stats = walk.stats;
    log::info!(
        "processes walked: {} (fds: {}, socket fds: {}); socket records: {}; skipped: {} \
         not ours to read, {} gone mid-scan (processes or fds)",
        stats.processes,
        stats.fds,
        walk.holders.len(),
        records.len(),
        stats.denied,
        stats.vanished
    );
    let users = if opts.numeric {
        users::Users::numeric()
    } else {
        users::Users::load()
    };
    let peers = if opts.pids.is_some() || opts.comm.is_some() {
        peers::holders_outside(&walk, &records, threads)?
    } else {
        Vec::new()
    };
    let mut listing = rows::join(
        &walk,
        &peers,
        &mut records,
        &filter,
        &users,
        gathered.listed,
    );
    if let Some(nsfs) = gathered.nsfs.filter(|_| opts.json || opts.extended) {
        listing.netns_names = netns::names(nsfs);
    }
    log::debug!(
        "{} rows joined at {:?}",
        listing.rows.len(),
        started.elapsed()
    );
    let shown = rows::Shown {
        extended: opts.extended,
        internals: opts.internals,
        memory: opts.memory,
    };
    if opts.kill {
        return kill::run(asked, &walk, &records, listing, shown);
    }
    if opts.explain {
        return explain::print(opts, &walk, &records, &listing, threads);
    }
    // The rows have what they show: make room for the output.
    drop((records, peers, walk));
    let mut stdout = |text: &[u8]| crate::io::write_stdout(text);
    let out = chunked::Chunked::new(&mut stdout);
    let written = if opts.json {
        json::write(&listing, shown, out)
    } else {
        table::write(&listing, shown, opts.no_header, out)
    };
    log::debug!("written at {:?}", started.elapsed());
    // The program ends here: handing 20,000 rows' records back to malloc
    // one by one (with -i, each row's tcp_info) took a tenth of -i's
    // user time, for memory the exit gives back at once.
    core::mem::forget(listing);
    written
}
