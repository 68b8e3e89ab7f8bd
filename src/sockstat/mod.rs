//! `sockstat`: every socket fd, its inode, and the kernel's record of it.
//!
//! The fd walk ([`procfs`]) finds which processes hold which socket inodes;
//! a source ([`netlink`] by default, [`procnet`] as the fallback) says what
//! each inode is; [`rows`] joins the two, [`table`] or [`json`] prints them.
//! The walk and the source run at the same time.

pub mod filter;
pub mod json;
pub mod netlink;
pub mod options;
pub mod procfs;
pub mod procnet;
pub mod record;
pub mod rows;
pub mod table;
pub mod users;

#[cfg(test)]
pub(crate) mod testing;

use crate::error::Result;
use filter::Filter;
pub use options::{Options, Source};
use record::SockRecord;

/// Lists the sockets `opts` selects on stdout.
///
/// # Errors
/// `/proc` unreadable, no source of socket records at all, or stdout
/// failing ([`Error::StdoutClosed`] for a reader that went away).
pub fn run(opts: &Options) -> Result<()> {
    let filter = Filter::new(opts);
    // Beyond a few threads the walk is bound by the kernel's locks, not CPUs.
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(16);
    let selection = procfs::Selection {
        pids: opts.pids.as_deref(),
        comm: opts.comm.as_deref().map(str::as_bytes),
        threads,
    };
    let started = std::time::Instant::now();
    let (walk, records) = std::thread::scope(|scope| {
        let source = scope.spawn(|| {
            let records = load_records(opts, &filter);
            log::debug!("socket records read in {:?}", started.elapsed());
            records
        });
        let walk = procfs::walk(selection);
        log::debug!("fd walk done in {:?}", started.elapsed());
        let records = source
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (walk, records)
    });
    let walk = walk?;
    let records = records?;
    let stats = walk.stats;
    log::info!(
        "walked {} processes ({} fds, {} socket fds), {} socket records; skipped: {} \
         processes not ours to read, {} processes or fds gone mid-scan",
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
    let listing = rows::join(&walk, &records, &filter, &users);
    log::debug!(
        "{} rows joined at {:?}",
        listing.rows.len(),
        started.elapsed()
    );
    let text = if opts.json {
        json::render(&listing, opts.extended)
    } else {
        table::render(&listing, opts.extended, opts.no_header)
    };
    log::debug!("rendered at {:?}", started.elapsed());
    crate::io::write_stdout(text.as_bytes())
}

/// Reads every table the filter needs: from netlink by default, each dump
/// that fails (a missing diag module, a refused socket) replaced by its
/// `/proc/net` file.
fn load_records(opts: &Options, filter: &Filter) -> Result<Vec<SockRecord>> {
    let mut diag = match opts.source {
        Source::Proc => None,
        Source::Netlink => match netlink::Diag::open() {
            Ok(diag) => Some(diag),
            Err(err) => {
                log::debug!("{err}; reading /proc/net instead");
                None
            }
        },
    };
    let mut records = Vec::new();
    for table in filter.tables() {
        let got = match diag
            .as_mut()
            .map(|diag| diag.dump(table, filter, opts.extended))
        {
            Some(Ok(got)) => got,
            Some(Err(err)) => {
                log::debug!("{err}; reading /proc/net instead");
                procnet::load(table, filter)?
            }
            None => procnet::load(table, filter)?,
        };
        records.extend(got);
    }
    Ok(records)
}
