//! Where sockd serves: the address and transport flags (clap's definitions,
//! flattened into sockd's own, so `--help` and the library agree), and the
//! bound socket they lead to.

use super::unix::{self, SocketFile};
use crate::endpoint::{Endpoint, Kind, UnixAddr};
use crate::error::{Error, Result};
use crate::socket::{bind_socket, listen};
use rustix::fd::OwnedFd;
use std::ffi::OsString;

/// sockd's three forms, for `--help`'s usage line.
pub const USAGE: &str = "sockd [OPTIONS] HOST PORT
       sockd -u [OPTIONS] HOST PORT
       sockd -U PATH [-u] [OPTIONS]";

/// What sockd was told to serve on.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Listen {
    /// IPv4 or IPv6 literal, localhost (127.0.0.1) or a host name to listen on
    #[arg(value_name = "HOST", required_unless_present = "unix")]
    pub host: Option<String>,
    /// Port, 0-65535; 0 lets the kernel choose (see --port-file)
    #[arg(required_unless_present = "unix")]
    pub port: Option<String>,
    /// Serve a unix socket instead: a path, or @name (abstract namespace)
    #[arg(short = 'U', long = "unix", value_name = "PATH", conflicts_with_all = ["host", "port"])]
    pub unix: Option<OsString>,
    /// Datagrams: UDP, or unix datagrams with -U
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,
    /// With -U: remove a stale socket file at PATH first (never a live one)
    #[arg(long)]
    pub unlink: bool,
    /// With -U: the socket file's permissions, in octal (e.g. 600)
    #[arg(long, value_name = "OCTAL", value_parser = unix::parse_mode)]
    pub mode: Option<u32>,
}

/// A socket bound (and, for a stream, listening) where [`Listen`] said.
#[derive(Debug)]
pub struct Bound {
    /// The socket.
    pub fd: OwnedFd,
    /// What it is bound to: the kernel's port for port 0.
    pub endpoint: Endpoint,
    /// How a host name was resolved (`localhost resolves to 127.0.0.1,
    /// ::1`), for the listening line.
    pub resolved: Option<String>,
    /// The socket file at a unix path, removed when this is dropped.
    pub file: Option<SocketFile>,
}

impl Listen {
    /// The transport the flags name.
    pub fn kind(&self) -> Kind {
        Kind::from_udp_flag(self.udp)
    }

    /// Binds where the flags say (a host name's first address), and
    /// listens with `backlog` on a stream socket.
    ///
    /// # Errors
    /// [`Error::Usage`] for a bad address, or `--mode` with an abstract
    /// name (it has no file to give permissions to); the resolver's
    /// failures (68, 75); those of `bind` and `listen` ([`unix::bind`] for a
    /// unix path).
    pub fn bind(&self, backlog: i32) -> Result<Bound> {
        let (endpoint, resolved) = self.endpoint()?;
        let (fd, endpoint, file) = match &self.unix {
            Some(_) => unix::bind(&endpoint, self.unlink, self.mode)?,
            None => {
                let (fd, bound) = bind_socket(&endpoint)?;
                (fd, bound, None)
            }
        };
        if endpoint.kind == Kind::Stream {
            listen(&fd, &endpoint, backlog)?;
        }
        Ok(Bound {
            fd,
            endpoint,
            resolved,
            file,
        })
    }

    /// The endpoint to bind, and what resolving a host name found.
    fn endpoint(&self) -> Result<(Endpoint, Option<String>)> {
        let kind = self.kind();
        let (host, port) = match (&self.unix, &self.host, &self.port) {
            (Some(path), _, _) => {
                let endpoint = Endpoint::unix(kind, path)?;
                if self.mode.is_some()
                    && endpoint
                        .address
                        .unix()
                        .and_then(UnixAddr::as_path)
                        .is_none()
                {
                    return Err(Error::Usage(format!(
                        "--mode is for a socket file; the abstract name {endpoint} has none"
                    )));
                }
                return Ok((endpoint, None));
            }
            // clap's `requires` lets a flag through when what it requires
            // conflicts with an argument given (-U with HOST), so this
            // checks it.
            (None, _, _) if self.unlink || self.mode.is_some() => {
                let flag = if self.unlink { "--unlink" } else { "--mode" };
                return Err(Error::Usage(format!(
                    "{flag} is for a unix socket file: give -U PATH"
                )));
            }
            (None, Some(host), Some(port)) => (host, port),
            _ => return Err(Error::Usage("give HOST PORT, or -U PATH".to_string())),
        };
        let found = crate::resolve::endpoints(kind, host, port)?;
        let Some(first) = found.first().cloned() else {
            return Err(Error::Usage(format!("{host}: no address")));
        };
        if crate::addr::parse_ip(host, 0).is_ok() {
            return Ok((first, None));
        }
        let addrs: Vec<String> = found
            .iter()
            .filter_map(Endpoint::socket_addr)
            .map(|addr| addr.ip().to_string())
            .collect();
        Ok((
            first,
            Some(format!("{host} resolves to {}", addrs.join(", "))),
        ))
    }
}

impl Bound {
    /// The readiness line of `--port-file` and `--background`: the port,
    /// or a unix socket's path (`@name` for an abstract one).
    pub fn announcement(&self) -> String {
        match self.endpoint.socket_addr() {
            Some(addr) => format!("{}\n", addr.port()),
            None => format!("{}\n", self.endpoint),
        }
    }

    /// stderr's line once serving: `listening on 127.0.0.1:43125`, after
    /// what a host name resolved to.
    pub fn listening_line(&self) -> String {
        match &self.resolved {
            Some(resolved) => format!("sockd: {resolved}; listening on {}\n", self.endpoint),
            None => format!("sockd: listening on {}\n", self.endpoint),
        }
    }
}
