//! `--kill`: ends each selected TCP socket, for harnesses that must cut a
//! live connection (a reconnect test) without touching the program that
//! holds it.
//!
//! What is selected, and what is printed; [`ending`](super::ending) says
//! how each socket is ended.

use super::chunked::Chunked;
use super::ending::{self, Diags, Ended, NotEnded};
use super::index::NumberMap;
use super::options::ProtoSet;
use super::procfs::Walk;
use super::record::{SockRecord, state};
use super::rows::{Listing, Row, Shown};
use super::{Options, Source, json, table};
use crate::error::{Error, Result};
use crate::exit::Exit;
use rustix::io::Errno;
use serde_json::Value;

/// Checks the flags `--kill` is given with.
///
/// # Errors
/// [`Error::Usage`] with no filter at all (`--kill` alone would end every
/// TCP connection of the host), with `--source proc` (a socket is named to
/// the kernel by the cookie only netlink gives), or with flags that can
/// select no TCP socket.
pub fn check(opts: &Options) -> Result<()> {
    let no_tcp = opts.protos.is_some_and(|p| !p.tcp) || (opts.unix && !opts.ipv4 && !opts.ipv6);
    if no_tcp {
        return Err(Error::Usage(
            "--kill ends TCP sockets only, and these flags select none".to_string(),
        ));
    }
    if !narrows_tcp(opts) {
        return Err(Error::Usage(
            "--kill needs a filter (-p, -c, -l, --pid, --comm, --inode, --netns, -4 or -6): \
             it does not end every TCP socket of the host"
                .to_string(),
        ));
    }
    if opts.source == Source::Proc {
        return Err(Error::Usage(
            "--kill cannot go with --source proc: a socket is named to the kernel by the \
             cookie only netlink gives"
                .to_string(),
        ));
    }
    Ok(())
}

/// Whether the flags leave out some TCP sockets. `--kill` lists TCP only,
/// so a `-P` that keeps TCP, `-u`, and `-4` with `-6` leave every TCP socket
/// of the host in: none of them is a filter here.
fn narrows_tcp(opts: &Options) -> bool {
    Options {
        protos: None,
        unix: false,
        ipv4: opts.ipv4 && !opts.ipv6,
        ipv6: opts.ipv6 && !opts.ipv4,
        ..opts.clone()
    }
    .narrowed()
}

/// The options the listing runs with under `--kill`: TCP only, and, as
/// with `-a`, sockets no visible fd holds too (another user's, orphans):
/// the kernel ends a socket by its id, whoever holds it.
///
/// # Errors
/// As [`check`].
pub fn selection(opts: &Options) -> Result<Options> {
    check(opts)?;
    Ok(Options {
        protos: Some(ProtoSet {
            tcp: true,
            udp: false,
            unix: false,
        }),
        all: true,
        ..opts.clone()
    })
}

/// Whether a row of the `--kill` listing is one the user selected: a TCP
/// socket, not in TIME_WAIT (unless `-a`: as `ss -K`, lingering closed
/// connections are left alone otherwise), and held by a selected process
/// when `--pid` or `--comm` selected processes.
fn selected(user: &Options, row: &Row, record: Option<&SockRecord>) -> bool {
    let lingering =
        record.is_some_and(|r| r.state == state::TIME_WAIT || r.state == state::NEW_SYN_RECV);
    let by_process = user.pids.is_some() || user.comm.is_some();
    row.proto.starts_with("tcp") && (user.all || !lingering) && (!by_process || row.owner.is_some())
}

/// Ends every socket of `listing` the user selected, prints the rows of
/// those it ended (as the table or JSON would show them, JSON with
/// `ended_by`), and one error line for each it could not end.
///
/// # Errors
/// [`Error::Reported`] with the exit code of the first failure (77 for
/// `EPERM`/`EACCES`, 71 otherwise), its line already printed; a stdout
/// that cannot be written.
pub fn run(
    user: &Options,
    walk: &Walk,
    records: &[SockRecord],
    listing: Listing,
    shown: Shown,
) -> Result<()> {
    let mut by_inode: NumberMap<u64, &SockRecord> = NumberMap::default();
    for record in records.iter().filter(|r| r.inode != 0) {
        by_inode.insert(record.inode, record);
    }
    let record_of = |row: &Row| {
        if row.inode != 0 {
            return by_inode.get(&row.inode).copied();
        }
        // No inode (TIME_WAIT): the addresses name it.
        records.iter().find(|r| {
            r.inode == 0
                && matches!(&r.kind, super::record::Kind::Inet { local, remote, .. }
                    if row.local == super::rows::Addr::Inet(*local)
                        && row.foreign == super::rows::Addr::Inet(*remote))
        })
    };
    let mut holders: NumberMap<u64, Vec<(u32, u32)>> = NumberMap::default();
    for h in &walk.holders {
        holders.entry(h.inode).or_default().push((h.pid, h.fd));
    }
    let mut diags = Diags::new(walk, user.netns.as_ref());
    let Listing {
        processes,
        rows,
        netns_names,
    } = listing;
    let mut outcome: NumberMap<u64, core::result::Result<Ended, NotEnded>> = NumberMap::default();
    let mut ended = Vec::new();
    let mut first_failure = None;
    for row in rows {
        let record = record_of(&row);
        if !selected(user, &row, record) {
            continue;
        }
        // One socket, however many fds hold it: ended once, every row shown.
        let key = if row.inode != 0 {
            row.inode
        } else {
            record.and_then(|r| r.details.cookie).unwrap_or(0)
        };
        let result = match outcome.get(&key) {
            Some(done) if key != 0 => *done,
            _ => {
                let held = holders.get(&row.inode).map_or(&[][..], Vec::as_slice);
                let result = ending::end(Some(&mut diags), record, row.inode, held);
                outcome.insert(key, result);
                if let Err(NotEnded::Failed(errno)) = result {
                    let err = Error::on("kill", describe(&row), errno);
                    crate::io::write_stderr(&format!("sockstat: {err}\n"));
                    first_failure.get_or_insert(errno);
                }
                result
            }
        };
        match result {
            Ok(how) => ended.push((row, how)),
            Err(NotEnded::Gone) => {
                log::info!("socket:[{}] closed before it could be ended", row.inode);
            }
            Err(NotEnded::Failed(_)) => {}
        }
    }
    let listing = Listing {
        processes,
        rows: ended.iter().map(|(row, _)| row.clone()).collect(),
        netns_names,
    };
    if user.json {
        let mut out = String::from("[");
        for (i, (row, how)) in ended.iter().enumerate() {
            let mut object = json::object(&listing, row, shown);
            if let Value::Object(map) = &mut object {
                map.insert("ended_by".into(), Value::from(how.name()));
            }
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&object.to_string());
        }
        out.push_str(if ended.is_empty() { "]\n" } else { "\n]\n" });
        crate::io::write_stdout(out.as_bytes())?;
    } else {
        let mut stdout = |text: &[u8]| crate::io::write_stdout(text);
        table::write(&listing, shown, user.no_header, Chunked::new(&mut stdout))?;
    }
    match first_failure {
        None => Ok(()),
        Some(errno) => {
            if matches!(errno, Errno::PERM | Errno::ACCESS) {
                crate::io::write_stderr(
                    "hint: SOCK_DESTROY needs CAP_NET_ADMIN; without it a socket is shut down \
                     through a holder you may ptrace (your own processes)\n",
                );
            }
            Err(Error::Reported(Exit::from_errno(errno)))
        }
    }
}

/// `tcp4 127.0.0.1:5000 127.0.0.1:80 socket:[INODE]`, for an error line.
fn describe(row: &Row) -> String {
    format!(
        "{} {} {} socket:[{}]",
        row.proto, row.local, row.foreign, row.inode
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_needs_a_filter_netlink_and_tcp() {
        let usage = |opts: &Options| matches!(check(opts), Err(Error::Usage(_)));
        assert!(usage(&Options::default()));
        assert!(usage(&Options {
            all: true,
            json: true,
            extended: true,
            ..Options::default()
        }));
        let by_port = Options {
            ports: super::super::options::parse_ports("80").ok(),
            ..Options::default()
        };
        assert!(check(&by_port).is_ok());
        assert!(usage(&Options {
            source: Source::Proc,
            ..by_port.clone()
        }));
        assert!(usage(&Options {
            unix: true,
            ..Options::default()
        }));
        assert!(
            check(&Options {
                unix: true,
                ipv4: true,
                ..Options::default()
            })
            .is_ok()
        );
        assert!(usage(&Options {
            protos: super::super::options::parse_protos("udp,unix").ok(),
            ..Options::default()
        }));
        // Flags that keep every TCP socket are no filter for --kill.
        for protos in ["tcp", "tcp,udp", "tcp,udp,unix"] {
            assert!(usage(&Options {
                protos: super::super::options::parse_protos(protos).ok(),
                ..Options::default()
            }));
        }
        let both_families = Options {
            ipv4: true,
            ipv6: true,
            ..Options::default()
        };
        assert!(usage(&both_families));
        assert!(usage(&Options {
            unix: true,
            ..both_families.clone()
        }));
        assert!(
            check(&Options {
                ipv6: true,
                protos: super::super::options::parse_protos("tcp").ok(),
                ..Options::default()
            })
            .is_ok()
        );
        let narrowed = selection(&Options {
            protos: super::super::options::parse_protos("tcp,udp").ok(),
            ..by_port.clone()
        });
        let narrowed = narrowed.unwrap_or_default();
        assert!(narrowed.all);
        assert_eq!(
            narrowed.protos,
            Some(ProtoSet {
                tcp: true,
                udp: false,
                unix: false
            })
        );
    }

    #[test]
    fn failures_map_to_their_exit_codes() {
        assert_eq!(Exit::from_errno(Errno::PERM), Exit::NoPermission);
        assert_eq!(Exit::from_errno(Errno::ACCESS), Exit::NoPermission);
        assert_eq!(Exit::from_errno(Errno::OPNOTSUPP), Exit::OsError);
        assert_eq!(Exit::from_errno(Errno::NOENT), Exit::OsError);
    }
}
