//! sockbench's flags, as clap reads them, and their conversion to
//! [`Options`]: the binary names the subcommands and reports the result.

use super::{Mode, Options};
use crate::error::{Error, Result};
use clap::Args;
use std::time::Duration;

/// The flags of the request loads (pingpong, churn, hold).
#[derive(Args, Debug)]
pub struct Requests {
    #[command(flatten)]
    /// The flags every load takes.
    pub common: Common,
    /// Connections (pingpong) or concurrent connections (churn).
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
    /// The echo server's IP (loopback only).
    pub ip: String,
    /// The echo server's port.
    pub port: String,
    /// How long to run, in seconds (fractions allowed).
    #[arg(
        short = 'd',
        long = "duration",
        value_name = "SECS",
        default_value = "5"
    )]
    pub duration: String,
    /// Retry a refused first connection for up to SECS (a server starting).
    #[arg(long = "wait", value_name = "SECS")]
    pub wait: Option<String>,
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
            target: crate::addr::parse_peer_addr(&common.ip, &common.port)?,
            connections: self.connections as usize,
            size: self.size,
            duration: seconds("-d", &common.duration)?,
            progress,
            wait: common
                .wait
                .as_deref()
                .map(|wait| seconds("--wait", wait))
                .transpose()?,
            threads: self.threads,
            first_connection: 0,
        })
    }
}

/// A duration flag (`-d`, `--wait`) as [`crate::cli::parse_secs`] reads it;
/// its range is checked by [`super::validate`].
fn seconds(flag: &str, text: &str) -> Result<Duration> {
    crate::cli::parse_secs(text)
        .map_err(|reason| Error::Usage(format!("invalid {flag} {text:?}: {reason}")))
}
