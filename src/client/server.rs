//! The server as the command line names it: `HOST PORT` (a literal, or a
//! name looked up at each connect) or a unix socket (`-U PATH`).

use crate::addr::{display_ip, parse_port};
use crate::endpoint::{Address, Endpoint, Kind, Transport};
use crate::error::{Error, Result};
use crate::resolve;
use core::fmt;
use std::ffi::OsStr;

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// `HOST PORT` over TCP or UDP. A name is resolved at each connect,
    /// not once: a container's address may change while `--wait` waits.
    Host {
        /// Stream (TCP) or datagram (UDP).
        kind: Kind,
        /// An IP literal, `localhost`, or a host name.
        host: String,
        /// 1–65535.
        port: u16,
    },
    /// A unix socket: a path or an abstract name.
    Unix(Endpoint),
}

impl ServerAddr {
    /// `HOST PORT` of `kind`; the host is checked before the port.
    ///
    /// # Errors
    /// [`Error::Usage`] for a host that is neither a literal nor a possible
    /// name (`127.1` included), a bad port, and port 0 (only a server can
    /// ask for any port).
    pub fn host(kind: Kind, host: &str, port: &str) -> Result<Self> {
        resolve::check_host(host)?;
        let number = parse_port(port)?;
        if number == 0 {
            return Err(Error::Usage(format!(
                "invalid port {port:?}: a client cannot connect to port 0 (only a server can ask for any port)"
            )));
        }
        Ok(Self::Host {
            kind,
            host: host.to_string(),
            port: number,
        })
    }

    /// A unix socket of `kind` at `path` (`@name`: the abstract namespace).
    ///
    /// # Errors
    /// [`Error::Usage`] for a path that does not fit `sun_path`.
    pub fn unix(kind: Kind, path: impl AsRef<OsStr>) -> Result<Self> {
        Endpoint::unix(kind, path).map(Self::Unix)
    }

    /// The command line's positional arguments: `HOST PORT [MESSAGE]...`,
    /// or, with `-U PATH`, every one of them a word of the message.
    ///
    /// # Errors
    /// As [`ServerAddr::host`] and [`ServerAddr::unix`]; [`Error::Usage`]
    /// when HOST or PORT is missing.
    pub fn from_args(
        kind: Kind,
        unix: Option<&OsStr>,
        mut positionals: Vec<String>,
    ) -> Result<(Self, Vec<String>)> {
        if let Some(path) = unix {
            return Ok((Self::unix(kind, path)?, positionals));
        }
        if positionals.len() < 2 {
            let missing = ["<HOST> and <PORT>", "<PORT>"][positionals.len().min(1)];
            return Err(Error::Usage(format!("missing {missing}")));
        }
        let words = positionals.split_off(2);
        let server = Self::host(kind, &positionals[0], &positionals[1])?;
        Ok((server, words))
    }

    /// Stream or datagram.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Host { kind, .. } => *kind,
            Self::Unix(endpoint) => endpoint.kind,
        }
    }

    /// Which of the four transports.
    pub fn transport(&self) -> Transport {
        match self {
            Self::Host {
                kind: Kind::Stream, ..
            } => Transport::Tcp,
            Self::Host {
                kind: Kind::Datagram,
                ..
            } => Transport::Udp,
            Self::Unix(endpoint) => endpoint.transport(),
        }
    }

    /// The endpoints to try, in order: a literal's one, a name's every
    /// address in the resolver's order, the unix socket.
    ///
    /// # Errors
    /// What [`resolve::resolve`] says: an unknown host (68), a resolver
    /// failing for now (75).
    pub fn endpoints(&self) -> Result<Vec<Endpoint>> {
        match self {
            Self::Host { kind, host, port } => Ok(resolve::resolve(host, *port, *kind)?
                .into_iter()
                .map(|addr| Endpoint::new(*kind, Address::Ip(addr)))
                .collect()),
            Self::Unix(endpoint) => Ok(vec![endpoint.clone()]),
        }
    }
}

impl fmt::Display for ServerAddr {
    /// `127.0.0.1:7777`, `[::1]:80`, `db:5432`, `/run/x.sock`, `@name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host { host, port, .. } => match crate::addr::parse_ip(host, *port) {
                Ok(literal) => write!(f, "{literal}"),
                Err(_) => write!(f, "{host}:{port}"),
            },
            Self::Unix(endpoint) => write!(f, "{endpoint}"),
        }
    }
}

/// The server as the transcript names it (`127.0.0.1 say: …`): the IP the
/// lesson prints, or a unix socket's path or `@name`.
pub fn say_name(endpoint: &Endpoint) -> String {
    match &endpoint.address {
        Address::Ip(addr) => display_ip(addr.ip()).to_string(),
        Address::Unix(unix) => unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn usage(result: Result<(ServerAddr, Vec<String>)>) -> String {
        match result {
            Err(Error::Usage(message)) => message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn host_port_then_words_or_every_word_after_u() {
        let (server, words) =
            ServerAddr::from_args(Kind::Stream, None, args(&["db", "5432", "hi"]))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            server,
            ServerAddr::Host {
                kind: Kind::Stream,
                host: "db".to_string(),
                port: 5432
            }
        );
        assert_eq!(words, args(&["hi"]));
        let path = OsStr::new("/tmp/s.sock");
        let (server, words) =
            ServerAddr::from_args(Kind::Datagram, Some(path), args(&["db", "5432"]))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(server.kind(), Kind::Datagram);
        assert_eq!(words, args(&["db", "5432"]));
        let unix = server.endpoints().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(say_name(&unix[0]), "/tmp/s.sock");
    }

    #[test]
    fn missing_bad_and_zero_ports_are_usage_errors() {
        let parse = |words: &[&str]| ServerAddr::from_args(Kind::Stream, None, args(words));
        assert_eq!(usage(parse(&[])), "missing <HOST> and <PORT>");
        assert_eq!(usage(parse(&["127.0.0.1"])), "missing <PORT>");
        assert!(usage(parse(&["127.1", "99999"])).contains("invalid address \"127.1\""));
        assert!(usage(parse(&["::1", "99999"])).contains("invalid port"));
        assert!(usage(parse(&["::1", "0"])).contains("a client cannot connect to port 0"));
        assert!(usage(parse(&["a b", "7"])).contains("invalid host"));
    }

    #[test]
    fn literals_are_their_own_endpoint_and_named_as_the_lesson_does() {
        let server =
            ServerAddr::host(Kind::Datagram, "[::1]", "7").unwrap_or_else(|e| panic!("{e}"));
        let found = server.endpoints().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::Datagram);
        assert_eq!(say_name(&found[0]), "::1");
    }
}
