//! sockbench's flags, as clap reads them, and their conversion to
//! [`Options`]: the binary names the subcommands and reports the result.

use super::{Mode, Options};
use crate::endpoint::{Endpoint, Kind};
use crate::error::{Error, Result};
use clap::Args;
use std::ffi::OsString;
use std::time::Duration;

/// The flags of the request loads (pingpong, churn, hold).
#[derive(Args, Debug)]
pub struct Requests {
    #[command(flatten)]
    /// The flags every load takes.
    pub common: Common,
    /// Connections (pingpong, hold) or concurrent connections (churn).
    #[arg(short = 'c', long = "connections", value_name = "CONNS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub connections: u32,
    /// Bytes per request.
    #[arg(short = 's', long = "size", value_name = "BYTES", default_value_t = 64)]
    pub size: usize,
    /// Load threads, each with its own epoll loop and a share of the
    /// connections (pingpong and churn; no progress line when above 1).
    #[arg(long = "threads", value_name = "N", default_value_t = 1)]
    pub threads: usize,
}

/// The flags every load takes.
#[derive(Args, Debug)]
pub struct Common {
    /// The echo server's IP, or a host name (loopback only); not with -U.
    #[arg(value_name = "HOST", required_unless_present = "unix")]
    pub ip: Option<String>,
    /// The echo server's port; not with -U.
    #[arg(required_unless_present = "unix")]
    pub port: Option<String>,
    /// A unix socket server instead: a path, or @name (abstract namespace).
    #[arg(short = 'U', long = "unix", value_name = "PATH", conflicts_with_all = ["ip", "port"])]
    pub unix: Option<OsString>,
    /// Datagrams: UDP, or unix datagrams with -U (pingpong only).
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,
    /// With -u: a request with no echo for SECS is lost, and the next one
    /// sent (default 0.2).
    #[arg(long = "lost-after", value_name = "SECS", value_parser = crate::cli::parse_secs)]
    pub lost_after: Option<Duration>,
    /// How long to run, in seconds (fractions allowed).
    #[arg(
        short = 'd',
        long = "duration",
        value_name = "SECS",
        default_value = "5",
        value_parser = crate::cli::parse_secs
    )]
    pub duration: Duration,
    /// Retry a refused first connection for up to SECS (a server starting).
    #[arg(long = "wait", value_name = "SECS", value_parser = crate::cli::parse_secs)]
    pub wait: Option<Duration>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// `-v`, as every program has it.
    #[command(flatten)]
    pub verbosity: crate::cli::Verbosity,
}

impl Common {
    /// bulk's flags as a request load's: one connection, one thread (the
    /// size is not used).
    pub fn into_requests(self) -> Requests {
        Requests {
            common: self,
            connections: 1,
            size: 64,
            threads: 1,
        }
    }
}

impl Requests {
    /// What to run: the flags parsed and checked ([`super::validate`]
    /// checks the rest when the run starts).
    ///
    /// # Errors
    /// [`crate::Error::Usage`] for a bad address or duration.
    pub fn options(&self, mode: Mode, progress: bool) -> Result<Options> {
        let common = &self.common;
        Ok(Options {
            mode,
            target: common.target()?,
            connections: self.connections as usize,
            size: self.size,
            duration: common.duration,
            progress,
            wait: common.wait,
            threads: self.threads,
            first_connection: 0,
            lost_after: match common.lost_after {
                Some(_) if !common.udp => {
                    return Err(Error::Usage(
                        "--lost-after is for datagram loads (-u)".to_string(),
                    ));
                }
                Some(lost_after) => lost_after,
                None => super::datagram::LOST_AFTER,
            },
        })
    }
}

impl Common {
    /// The server: `-U`'s unix socket, or `HOST PORT`: an IP literal, or a
    /// name's first loopback address (its first address when it has none,
    /// for [`super::validate`] to refuse); datagrams with `-u`.
    fn target(&self) -> Result<Endpoint> {
        let kind = Kind::from_udp_flag(self.udp);
        let (host, port) = match (&self.unix, &self.ip, &self.port) {
            (Some(path), _, _) => return Endpoint::unix(kind, path),
            (None, Some(host), Some(port)) => (host, port),
            _ => return Err(Error::Usage("give HOST PORT, or -U PATH".to_string())),
        };
        let found = crate::resolve::endpoints(kind, host, port)?;
        if let Some(first) = found.first().and_then(Endpoint::socket_addr) {
            crate::addr::check_peer_port(first.port(), port)?;
        }
        let is_loopback = |endpoint: &&Endpoint| {
            endpoint
                .socket_addr()
                .is_some_and(|addr| super::is_loopback(&addr))
        };
        let chosen = found.iter().find(is_loopback).or(found.first());
        chosen
            .cloned()
            .ok_or_else(|| Error::Usage(format!("{host}: no address")))
    }
}
