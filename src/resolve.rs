//! Host names to addresses, through the system resolver.
//!
//! IP literals and `localhost` (127.0.0.1) never reach the resolver, so
//! they cost no look-up and cannot fail for want of DNS; input made only of
//! digits and dots must be a dotted quad (`127.1` stays a usage error, as
//! `inet_addr` and `getaddrinfo` would take it). Anything else that looks
//! like a host name goes to `getaddrinfo(3)`: `/etc/hosts`, DNS, whatever
//! `/etc/nsswitch.conf` names (a container's service names included). The
//! addresses come back in the resolver's order; a client tries them in
//! turn ([`crate::socket::connect_any`]), a server binds the first.
//!
//! Why `getaddrinfo` through the `dns-lookup` crate rather than
//! `std::net::ToSocketAddrs`, which also calls it: an unknown host
//! (`EAI_NONAME`, exit 68) and a resolver that fails for now (`EAI_AGAIN`,
//! exit 75) must end differently, and std folds every `EAI_*` code into one
//! uncategorized `io::Error` that tells them apart only by the text of its
//! message. `dns-lookup` hands back the code itself.

use crate::addr;
use crate::endpoint::{Address, Endpoint, Kind};
use crate::error::{Error, Result};
use crate::exit::Exit;
use core::net::SocketAddr;
use dns_lookup::{AddrInfoHints, LookupErrorKind, SockType};

/// The longest host name DNS can carry (253 characters, dots included).
const NAME_MAX: usize = 253;

/// Why the resolver gave no address (a `getaddrinfo` `EAI_*` code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// `EAI_NONAME`: no such host (NXDOMAIN, or in no file the resolver reads).
    NoName,
    /// `EAI_NODATA`: the name exists but has no address.
    NoData,
    /// `EAI_AGAIN`: the resolver could not answer now (DNS unreachable,
    /// `SERVFAIL`).
    Again,
    /// `EAI_FAIL`: a failure the resolver calls permanent.
    Fail,
    /// `EAI_MEMORY`.
    Memory,
    /// Any other code (a flag or family this build got wrong).
    Other(i32),
}

impl Failure {
    /// The code's name, as `netdb.h` spells it.
    pub fn name(self) -> String {
        match self {
            Self::NoName => "EAI_NONAME".to_string(),
            Self::NoData => "EAI_NODATA".to_string(),
            Self::Again => "EAI_AGAIN".to_string(),
            Self::Fail => "EAI_FAIL".to_string(),
            Self::Memory => "EAI_MEMORY".to_string(),
            Self::Other(code) => format!("getaddrinfo {code}"),
        }
    }

    /// What it means, in the words of an error line.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoName => "unknown host",
            Self::NoData => "the host has no address",
            Self::Again => "temporary failure in name resolution",
            Self::Fail => "non-recoverable failure in name resolution",
            Self::Memory => "out of memory",
            Self::Other(_) => "name resolution failed",
        }
    }

    /// 68 for a host the resolver does not know, 75 for one it could not
    /// look up now, 71 otherwise.
    pub fn exit(self) -> Exit {
        match self {
            Self::NoName | Self::NoData => Exit::NoHost,
            Self::Again => Exit::TempFail,
            Self::Fail | Self::Memory | Self::Other(_) => Exit::OsError,
        }
    }
}

/// `HOST` and `PORT` of the command line as the endpoints to try, in the
/// resolver's order (one for an IP literal or `localhost`). The host is
/// checked before the port.
///
/// # Errors
/// [`Error::Usage`] for a host that is neither a literal nor a possible
/// host name (see [`check_host`]) and for a bad port; what [`resolve`] says.
pub fn endpoints(kind: Kind, host: &str, port: &str) -> Result<Vec<Endpoint>> {
    check_host(host)?;
    let port = addr::parse_port(port)?;
    let found = resolve(host, port, kind)?;
    Ok(found
        .into_iter()
        .map(|addr| Endpoint::new(kind, Address::Ip(addr)))
        .collect())
}

/// The addresses of `host` with `port`: an IP literal or `localhost` as it
/// is, anything else from `getaddrinfo` (asked for `kind`'s socket type, so
/// each address comes once), without duplicates, in the resolver's order.
/// A look-up takes as long as the resolver lets it (`/etc/resolv.conf`'s
/// `timeout` and `attempts`).
///
/// # Errors
/// [`Error::Usage`] as [`check_host`]; [`Error::Resolve`] for a name the
/// resolver does not know (exit 68) or cannot look up now (exit 75);
/// [`Error::Os`] (op `resolve`) for `EAI_SYSTEM`'s errno.
///
/// # References
///  - [getaddrinfo(3)](https://man7.org/linux/man-pages/man3/getaddrinfo.3.html)
pub fn resolve(host: &str, port: u16, kind: Kind) -> Result<Vec<SocketAddr>> {
    match addr::parse_ip(host, port) {
        Ok(literal) => Ok(vec![literal]),
        Err(_) if is_host_name(host) => system(host, port, kind),
        Err(err) => Err(err),
    }
}

/// Whether `host` can be given to [`resolve`]: an IP literal,
/// `localhost`, or a host name (letters, digits, `-`, `_` and `.`, not
/// starting with `-` or `.`, at most 253 characters, and not only digits
/// and dots).
///
/// # Errors
/// [`Error::Usage`] saying which it is not.
pub fn check_host(host: &str) -> Result<()> {
    match addr::parse_ip(host, 0) {
        Ok(_) => Ok(()),
        Err(_) if is_host_name(host) => Ok(()),
        // Digits and dots, brackets, a zone: meant as a literal, and not one.
        Err(err) if looks_literal(host) => Err(err),
        Err(_) => Err(Error::Usage(format!(
            "invalid host {host:?}: expected an IPv4 dotted quad, an IPv6 literal, localhost or a host name"
        ))),
    }
}

fn looks_literal(host: &str) -> bool {
    !host.is_empty()
        && (host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            || host.contains([':', '[', ']', '%'])
            || last_label_is_a_number(host))
}

/// Whether the last label (a final `.` aside) is a number as `inet_aton`
/// reads one, in decimal or in hex (`0x10`, `127.0x1`): `getaddrinfo`
/// would take the whole as an address (`0x10` is 0.0.0.16), never look it
/// up, and no top-level domain is a number, so it is no name.
fn last_label_is_a_number(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    let label = name.rsplit('.').next().unwrap_or(name);
    match label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
    {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn is_host_name(host: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    !host.is_empty()
        && host.len() <= NAME_MAX
        && host.bytes().all(allowed)
        && !host.starts_with(['-', '.'])
        && !looks_literal(host)
}

/// `getaddrinfo(host, NULL, {socktype})`, each address given `port`.
fn system(host: &str, port: u16, kind: Kind) -> Result<Vec<SocketAddr>> {
    let socktype = match kind {
        Kind::Stream => SockType::Stream,
        Kind::Datagram => SockType::DGram,
    };
    let hints = AddrInfoHints {
        socktype: socktype.into(),
        ..AddrInfoHints::default()
    };
    let found = dns_lookup::getaddrinfo(Some(host), None, Some(hints))
        .map_err(|err| lookup_error(host, err))?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    // An entry of a family std has no type for is of no use to a socket here.
    for info in found.flatten() {
        let mut addr = info.sockaddr;
        addr.set_port(port);
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    log::debug!("{host} resolved to {addrs:?}");
    if addrs.is_empty() {
        return Err(Error::Resolve {
            host: host.to_string(),
            failure: Failure::NoData,
        });
    }
    Ok(addrs)
}

fn lookup_error(host: &str, err: dns_lookup::LookupError) -> Error {
    let failure = match err.kind() {
        LookupErrorKind::NoName => Failure::NoName,
        LookupErrorKind::NoData => Failure::NoData,
        LookupErrorKind::Again => Failure::Again,
        LookupErrorKind::Fail => Failure::Fail,
        LookupErrorKind::Memory => Failure::Memory,
        LookupErrorKind::System | LookupErrorKind::IO => {
            let io = std::io::Error::from(err);
            return Error::from_io("resolve", host, &io);
        }
        _ => Failure::Other(err.error_num()),
    };
    Error::Resolve {
        host: host.to_string(),
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn literals_and_localhost_are_taken_as_they_are() {
        let one = |host: &str| resolve(host, 7, Kind::Stream).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one("127.0.0.1"), vec![v4(7)]);
        // Not the resolver's list (which may hold ::1 as well): the literal rule.
        assert_eq!(one("localhost"), vec![v4(7)]);
        assert_eq!(one("[::1]"), vec!["[::1]:7".parse().unwrap_or(v4(0))]);
    }

    #[test]
    fn localhost_through_the_resolver_comes_from_etc_hosts() {
        for kind in [Kind::Stream, Kind::Datagram] {
            let found = system("localhost", 9, kind).unwrap_or_else(|e| panic!("{e}"));
            assert!(found.contains(&v4(9)), "{found:?}");
            assert!(found.iter().all(|addr| addr.port() == 9), "{found:?}");
            let unique: std::collections::HashSet<_> = found.iter().collect();
            assert_eq!(unique.len(), found.len(), "no address twice: {found:?}");
        }
    }

    #[test]
    fn digits_and_dots_stay_strict_and_bad_names_are_usage_errors() {
        for host in [
            "127.1",
            "999.0.0.1",
            "1.2.3.4.5",
            "01.2.3.4",
            "[::1",
            "fe80::1%nosuch0",
            // inet_aton's hex: getaddrinfo would make 0.0.0.16 of it.
            "0x10",
            "0X7f000001",
            "127.0x1",
            "db.0x1f",
            "db.42",
        ] {
            let err = resolve(host, 7, Kind::Stream).err();
            assert!(
                matches!(err, Some(Error::Usage(ref m)) if m.contains("invalid address")),
                "{host}: {err:?}"
            );
        }
        let long = "a".repeat(NAME_MAX + 1);
        for host in [
            "",
            "exa mple.com",
            "-x",
            ".x",
            "a\nb",
            "a/b",
            "é.com",
            &long,
        ] {
            let err = check_host(host).err();
            assert!(
                matches!(err, Some(Error::Usage(ref m)) if m.contains("invalid host")),
                "{host:?}: {err:?}"
            );
        }
        for host in [
            "db",
            "my_service",
            "a-b.example.",
            "x1.y2",
            "localhost",
            "0x10.example",
            "1_000",
            "db.0xz",
        ] {
            assert!(check_host(host).is_ok(), "{host}");
        }
    }

    #[test]
    fn the_host_is_checked_before_the_port() {
        let err = endpoints(Kind::Stream, "127.1", "99999").err();
        assert!(
            matches!(err, Some(Error::Usage(ref m)) if m.contains("127.1")),
            "{err:?}"
        );
        let err = endpoints(Kind::Stream, "127.0.0.1", "99999").err();
        assert!(
            matches!(err, Some(Error::Usage(ref m)) if m.contains("port")),
            "{err:?}"
        );
        let found = endpoints(Kind::Datagram, "localhost", "53").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found, vec![Endpoint::udp(v4(53))]);
    }

    #[test]
    fn failures_map_to_their_exit_codes() {
        let err = |failure| Error::Resolve {
            host: "db".to_string(),
            failure,
        };
        let unknown = err(Failure::NoName);
        assert_eq!(unknown.to_string(), "resolve db: unknown host (EAI_NONAME)");
        assert_eq!(unknown.exit(), Exit::NoHost);
        assert!(
            unknown
                .hint()
                .unwrap_or_default()
                .contains("does not know db")
        );
        let later = err(Failure::Again);
        assert_eq!(
            later.to_string(),
            "resolve db: temporary failure in name resolution (EAI_AGAIN)"
        );
        assert_eq!(later.exit(), Exit::TempFail);
        assert_eq!(err(Failure::NoData).exit(), Exit::NoHost);
        assert_eq!(err(Failure::Fail).exit(), Exit::OsError);
        assert_eq!(
            err(Failure::Other(-99)).to_string(),
            "resolve db: name resolution failed (getaddrinfo -99)"
        );
    }
}
