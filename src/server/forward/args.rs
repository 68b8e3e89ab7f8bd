//! `--forward`'s flags (clap's definitions, flattened into sockd's own) and
//! the parser of its value: a bad one is a usage error (exit 64, one line).
//! A host name is checked here and resolved once, when sockd starts
//! ([`Target::resolve`]).

use crate::endpoint::{Endpoint, Kind};
use crate::error::{Error, Result};
use core::time::Duration;
use std::ffi::OsString;

/// How long an upstream connect may take unless `--connect-timeout` says.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// sockd as a forwarding proxy.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ForwardFlags {
    /// Relay each client to a new connection to HOST:PORT, [IPv6]:PORT or unix:PATH, both ways
    #[arg(long, value_name = "HOST:PORT|unix:PATH", value_parser = parse_target, conflicts_with_all = ["udp", "chat"])]
    pub forward: Option<Target>,
    /// With --forward: which relayed bytes the faults touch: up (client to upstream), down, both
    #[arg(long, value_name = "DIR", value_enum, requires = "forward")]
    pub fault_dir: Option<FaultDir>,
    /// With --forward: give up on an upstream that has not answered the connect in SECS [default: 5]
    #[arg(long, value_name = "SECS", value_parser = crate::cli::parse_secs, requires = "forward")]
    pub connect_timeout: Option<Duration>,
}

/// Which way the relayed bytes the faults touch go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FaultDir {
    /// Client to upstream.
    Up,
    /// Upstream to client.
    Down,
    /// Both.
    #[default]
    Both,
}

impl FaultDir {
    /// As `--fault-dir` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Both => "both",
        }
    }

    /// Whether the bytes to the upstream are faulted.
    pub fn up(self) -> bool {
        matches!(self, Self::Up | Self::Both)
    }

    /// Whether the bytes to the client are faulted.
    pub fn down(self) -> bool {
        matches!(self, Self::Down | Self::Both)
    }
}

/// Where `--forward` relays to, as given (a name not yet resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host (IP literal, `localhost` or name) and a port.
    Host {
        /// As given, without an IPv6 literal's brackets.
        host: String,
        /// As given.
        port: String,
    },
    /// A unix stream socket: a path, or `@name`.
    Unix(OsString),
}

impl Target {
    /// The upstream's endpoint: a host name's first address (resolved now,
    /// once), and what the name resolved to, for the log.
    ///
    /// # Errors
    /// The resolver's failures (68, 75); [`Error::Usage`] for a name with
    /// no stream address.
    pub fn resolve(&self) -> Result<(Endpoint, Option<String>)> {
        let (host, port) = match self {
            Self::Unix(path) => return Ok((Endpoint::unix(Kind::Stream, path)?, None)),
            Self::Host { host, port } => (host, port),
        };
        let found = crate::resolve::endpoints(Kind::Stream, host, port)?;
        let Some(first) = found.first().cloned() else {
            return Err(Error::Usage(format!("--forward {host}: no address")));
        };
        if crate::addr::parse_ip(host, 0).is_ok() {
            return Ok((first, None));
        }
        let addrs: Vec<String> = found.iter().map(ToString::to_string).collect();
        Ok((
            first,
            Some(format!("{host} resolves to {}", addrs.join(", "))),
        ))
    }
}

/// `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH` (`unix:@name` for an
/// abstract name); the host and port checked as sockc checks them (port 0
/// cannot be connected to).
fn parse_target(text: &str) -> core::result::Result<Target, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        Endpoint::unix(Kind::Stream, path).map_err(|err| err.to_string())?;
        return Ok(Target::Unix(OsString::from(path)));
    }
    let expected = "expected HOST:PORT, [IPv6]:PORT or unix:PATH";
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once("]:") {
            Some((host, port)) => (host, port),
            None => return Err(expected.to_string()),
        },
        None => match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(format!("{expected} (an IPv6 literal goes in brackets)"));
            }
            Some(pair) => pair,
            None => return Err(expected.to_string()),
        },
    };
    if host.is_empty() {
        return Err(expected.to_string());
    }
    crate::resolve::check_host(host).map_err(|err| err.to_string())?;
    match crate::addr::parse_port(port).map_err(|err| err.to_string())? {
        0 => Err("port 0 cannot be connected to".to_string()),
        _ => Ok(Target::Host {
            host: host.to_string(),
            port: port.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(host: &str, port: &str) -> Target {
        Target::Host {
            host: host.to_string(),
            port: port.to_string(),
        }
    }

    #[test]
    fn each_form_parses() {
        assert_eq!(parse_target("127.0.0.1:80"), Ok(host("127.0.0.1", "80")));
        assert_eq!(parse_target("[::1]:8080"), Ok(host("::1", "8080")));
        assert_eq!(
            parse_target("db.internal:5432"),
            Ok(host("db.internal", "5432"))
        );
        assert_eq!(
            parse_target("unix:/tmp/x.sock"),
            Ok(Target::Unix(OsString::from("/tmp/x.sock")))
        );
        assert_eq!(
            parse_target("unix:@name"),
            Ok(Target::Unix(OsString::from("@name")))
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:",
            ":80",
            "::1:80",
            "[::1]80",
            "[::1]:x",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.1:80",
            "-x:80",
            "unix:",
        ] {
            assert!(parse_target(bad).is_err(), "--forward {bad:?}");
        }
        let long = format!("unix:/tmp/{}", "x".repeat(120));
        assert!(parse_target(&long).is_err());
    }

    #[test]
    fn fault_dir_names_the_directions() {
        assert!(FaultDir::Up.up() && !FaultDir::Up.down());
        assert!(!FaultDir::Down.up() && FaultDir::Down.down());
        assert!(FaultDir::Both.up() && FaultDir::Both.down());
    }
}
