//! One network namespace's source of socket records: sock_diag over a
//! netlink socket made in that namespace (our own, or one entered for the
//! purpose), with its `/proc/net` tables as the fallback — ours, or those
//! of a process in the namespace where entering it is not allowed.

use super::filter::Filter;
use super::procnet::Tables;
use super::record::{InetProto, IpVersion, Table};
use super::trust::Records;
use super::{Options, Source, links, netlink, netns, procnet};
use crate::error::{Error, Result};
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// A namespace's source, open.
pub struct Loader<'a> {
    /// What the listing wants of this namespace.
    pub filter: &'a Filter,
    /// The namespace's inode, when known.
    pub netns: Option<u64>,
    ask: netlink::Ask,
    diag: Option<netlink::Diag>,
    /// For the names of the devices sockets are bound to.
    pub(crate) route: Option<OwnedFd>,
    /// Where its `/proc/net` tables are, if anywhere.
    tables: Option<Tables>,
}

fn ask(opts: &Options) -> netlink::Ask {
    netlink::Ask {
        extended: opts.extended,
        tcp_info: opts.internals,
        memory: opts.memory,
    }
}

/// For a table with `-i` (not `-m`, which needs the rest of the
/// internals): each record's TCP-INFO cell, written as its reply arrives.
fn cell(opts: &Options) -> Option<netlink::WriteCell> {
    (opts.internals && !opts.memory && !opts.json && !opts.explain)
        .then_some(super::table::write_tcp_info as netlink::WriteCell)
}

/// `NETLINK_ROUTE`, or `None` (devices then show by index).
fn route() -> Option<OwnedFd> {
    links::open()
        .map_err(|errno| {
            log::debug!(
                "NETLINK_ROUTE: {}; devices shown by index",
                crate::error::describe_errno(errno)
            );
        })
        .ok()
}

impl<'a> Loader<'a> {
    /// Our own namespace (inode `netns`): `--source netlink` opens a
    /// sock_diag socket; if that fails, or with `--source proc`, tables are
    /// read from `/proc/net`.
    pub fn here(opts: &Options, filter: &'a Filter, netns: Option<u64>) -> Self {
        let diag = match opts.source {
            Source::Proc => None,
            Source::Netlink => match netlink::Diag::open() {
                Ok(mut diag) => {
                    diag.cell = cell(opts);
                    Some(diag)
                }
                Err(err) => {
                    log::debug!("{err}; reading /proc/net instead");
                    None
                }
            },
        };
        Self {
            filter,
            netns,
            ask: ask(opts),
            route: diag.as_ref().and_then(|_| route()),
            diag,
            tables: Some(Tables::Ours),
        }
    }

    /// Namespace `inode`: with `--source netlink` its sockets are made
    /// inside it through `ns` ([`netns::enter`]); where that is refused
    /// (`EPERM` when not root), or fails, or with `--source proc`, its
    /// tables are read as process `pid` sees them (`/proc/PID/net`).
    /// `None` when neither can be had.
    ///
    /// # Errors
    /// `EINVAL` from `setns`: `ns` is not a network namespace.
    pub fn inside(
        opts: &Options,
        filter: &'a Filter,
        inode: u64,
        ns: Option<OwnedFd>,
        pid: Option<u32>,
    ) -> core::result::Result<Option<Self>, Errno> {
        let tables = pid.map(Tables::Of);
        let mut loader = Self {
            filter,
            netns: Some(inode),
            ask: ask(opts),
            diag: None,
            route: None,
            tables,
        };
        if let (Source::Netlink, Some(ns)) = (opts.source, ns) {
            match netns::enter(ns, || (netlink::Diag::open(), route())) {
                Ok((Ok(mut diag), route)) => {
                    diag.cell = cell(opts);
                    loader.diag = Some(diag);
                    loader.route = route;
                }
                Ok((Err(err), _)) => log::debug!("netns {inode}: {err}"),
                Err(Errno::INVAL) => return Err(Errno::INVAL),
                Err(errno) => log::debug!(
                    "setns to netns {inode}: {}; reading {}",
                    crate::error::describe_errno(errno),
                    pid.map_or("nothing".to_string(), |pid| format!("/proc/{pid}/net"))
                ),
            }
        }
        Ok((loader.diag.is_some() || loader.tables.is_some()).then_some(loader))
    }

    /// Every table the filter needs.
    ///
    /// # Errors
    /// A table that neither netlink nor `/proc/net` could give.
    pub fn load(&mut self) -> Result<Records> {
        let mut records = Records::default();
        let mut tables: Vec<Table> = self.filter.tables().collect();
        let (tcp4, tcp6) = (
            Table::Inet(InetProto::Tcp, IpVersion::V4),
            Table::Inet(InetProto::Tcp, IpVersion::V6),
        );
        if tables.contains(&tcp4) && tables.contains(&tcp6) {
            let both = self
                .diag
                .as_mut()
                .map(|diag| diag.dump_tcp(self.filter, self.ask));
            match both {
                Some(Ok(sure)) => {
                    records.sure = sure;
                    tables.retain(|t| *t != tcp4 && *t != tcp6);
                }
                Some(Err(err)) => log::debug!("{err}; dumping tcp4 and tcp6 apart"),
                None => {}
            }
        }
        for table in tables {
            records.extend(self.table(table)?);
        }
        Ok(records)
    }

    /// One table: from netlink, or from `/proc/net` if its dump fails (a
    /// missing diag module, a refused socket).
    pub(crate) fn table(&mut self, table: Table) -> Result<Records> {
        let dumped = self
            .diag
            .as_mut()
            .map(|diag| diag.dump(table, self.filter, self.ask));
        let err = match dumped {
            Some(Ok(sure)) => {
                return Ok(Records {
                    sure,
                    doubtful: Vec::new(),
                });
            }
            Some(Err(err)) => err,
            None => Error::on("sock_diag dump", table.name(), Errno::NOTCONN),
        };
        match self.tables {
            Some(tables) => {
                if self.diag.is_some() {
                    log::debug!("{err}; reading /proc/net instead");
                }
                procnet::load(table, self.filter, tables)
            }
            None => Err(err),
        }
    }
}
