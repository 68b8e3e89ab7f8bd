//! One endpoint type for every transport: what `socket(2)` needs to know
//! (stream or datagram, and the family its address implies) and the address
//! `bind(2)` or `connect(2)` takes.
//!
//! The four transports are the product of two independent choices, so an
//! [`Endpoint`] cannot name a combination that does not exist:
//!
//! | | [`Address::Ip`] | [`Address::Unix`] |
//! |---|---|---|
//! | [`Kind::Stream`] | TCP | unix stream (`SOCK_STREAM`) |
//! | [`Kind::Datagram`] | UDP | unix datagram (`SOCK_DGRAM`) |
//!
//! A unix address is a filesystem path, an abstract name (`@name` on the
//! command line, a leading NUL in `sun_path`), or unnamed (a socket that was
//! never bound; bound unnamed, the kernel picks an abstract name for it).

use crate::error::{Error, Result};
use core::fmt;
use core::net::SocketAddr;
use rustix::io::Errno;
use rustix::net::{AddressFamily, Protocol, SocketAddrAny, SocketAddrUnix, SocketType, ipproto};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The most bytes a unix socket path or abstract name may have. `sun_path`
/// is 108 bytes: a path keeps one for its NUL (Linux takes a 108th byte
/// without it, but `getsockname` then hands back a path that is no C
/// string, and other tools refuse it); an abstract name starts with a NUL.
pub const UNIX_PATH_MAX: usize = 107;

/// Stream or datagram: the `type` argument of `socket(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `SOCK_STREAM`: TCP, or a unix stream socket.
    Stream,
    /// `SOCK_DGRAM`: UDP, or a unix datagram socket.
    Datagram,
}

impl Kind {
    /// `-u` given or not, as nc and every program here spell it.
    pub fn from_udp_flag(udp: bool) -> Self {
        if udp { Self::Datagram } else { Self::Stream }
    }

    /// The `socket(2)` type.
    pub fn socket_type(self) -> SocketType {
        match self {
            Self::Stream => SocketType::STREAM,
            Self::Datagram => SocketType::DGRAM,
        }
    }
}

/// The four transports, for names and for the few decisions that differ
/// between them (`SO_REUSEADDR` is for TCP alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP over IPv4 or IPv6.
    Tcp,
    /// UDP over IPv4 or IPv6.
    Udp,
    /// A unix stream socket.
    UnixStream,
    /// A unix datagram socket.
    UnixDatagram,
}

impl Transport {
    /// `tcp`, `udp`, `unix` or `unix-dgram` (as reports and logs name them).
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::UnixStream => "unix",
            Self::UnixDatagram => "unix-dgram",
        }
    }
}

/// A unix domain socket address: a path, an abstract name, or none.
///
/// Built only through the checked constructors, so every value fits
/// `sun_path` ([`UNIX_PATH_MAX`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnixAddr(Unix);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Unix {
    Path(PathBuf),
    Abstract(Vec<u8>),
    Unnamed,
    /// A path that fills all of `sun_path`, with no NUL: Linux takes it
    /// from a peer's `bind`, but reports it back longer than a
    /// `sockaddr_un`, and rustix cannot decode that (it panics), so its
    /// bytes are not read.
    FullPath,
}

/// `offsetof(struct sockaddr_un, sun_path)`, and the whole `sockaddr_un`.
const SUN_PATH_OFFSET: usize = 2;
const SOCKADDR_UN_LEN: usize = SUN_PATH_OFFSET + 108;

impl UnixAddr {
    /// A command-line argument: `@name` for the abstract namespace,
    /// anything else a filesystem path (`./@name` for a file whose name
    /// starts with `@`).
    ///
    /// # Errors
    /// [`Error::Usage`] for an empty path or name, a NUL byte, or more than
    /// [`UNIX_PATH_MAX`] bytes.
    pub fn parse(arg: impl AsRef<OsStr>) -> Result<Self> {
        let bytes = arg.as_ref().as_bytes();
        match bytes.strip_prefix(b"@") {
            Some(name) => Self::abstract_name(name),
            None => Self::path(arg.as_ref()),
        }
    }

    /// A filesystem path.
    ///
    /// # Errors
    /// [`Error::Usage`] for an empty path, a NUL byte, or more than
    /// [`UNIX_PATH_MAX`] bytes.
    pub fn path(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        check_length("path", path.as_os_str().as_bytes())?;
        Ok(Self(Unix::Path(path)))
    }

    /// An abstract name (without the leading NUL; `@name` shows it).
    ///
    /// # Errors
    /// [`Error::Usage`] for an empty name, a NUL byte, or more than
    /// [`UNIX_PATH_MAX`] bytes.
    pub fn abstract_name(name: &[u8]) -> Result<Self> {
        check_length("abstract name", name)?;
        Ok(Self(Unix::Abstract(name.to_vec())))
    }

    /// No address: bound like this, a socket gets an abstract name the
    /// kernel picks (autobind: five hex digits), so that a datagram peer
    /// can answer it.
    pub fn unnamed() -> Self {
        Self(Unix::Unnamed)
    }

    /// The filesystem path, if this is one.
    pub fn as_path(&self) -> Option<&Path> {
        match &self.0 {
            Unix::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The abstract name (without its leading NUL), if this is one.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match &self.0 {
            Unix::Abstract(name) => Some(name),
            _ => None,
        }
    }

    /// Whether this is no address at all.
    pub fn is_unnamed(&self) -> bool {
        self.0 == Unix::Unnamed
    }

    /// As rustix's `sockaddr_un`.
    ///
    /// # Errors
    /// `ENAMETOOLONG` only if `sun_path` were shorter than this crate
    /// assumes.
    pub fn to_rustix(&self) -> core::result::Result<SocketAddrUnix, Errno> {
        match &self.0 {
            Unix::Path(path) => SocketAddrUnix::new(path.as_path()),
            Unix::Abstract(name) => SocketAddrUnix::new_abstract_name(name),
            Unix::Unnamed => Ok(SocketAddrUnix::new_unnamed()),
            Unix::FullPath => Err(Errno::NAMETOOLONG),
        }
    }

    /// What the kernel reported (`getsockname`, `recvfrom`), as it is. An
    /// empty abstract name is taken for no name: rustix hands an unnamed
    /// address back that way from a [`SocketAddrAny`].
    pub fn from_rustix(addr: &SocketAddrUnix) -> Self {
        if let Some(path) = addr.path_bytes() {
            Self(Unix::Path(PathBuf::from(OsStr::from_bytes(path))))
        } else if let Some(name) = addr.abstract_name().filter(|name| !name.is_empty()) {
            Self(Unix::Abstract(name.to_vec()))
        } else {
            Self(Unix::Unnamed)
        }
    }
}

fn check_length(what: &str, bytes: &[u8]) -> Result<()> {
    let shown = String::from_utf8_lossy(bytes);
    if bytes.is_empty() {
        return Err(Error::Usage(format!("empty unix socket {what}")));
    }
    if bytes.contains(&0) {
        return Err(Error::Usage(format!(
            "unix socket {what} {shown:?} contains a NUL byte"
        )));
    }
    if bytes.len() > UNIX_PATH_MAX {
        return Err(Error::Usage(format!(
            "unix socket {what} {shown:?} is {} bytes; at most {UNIX_PATH_MAX} fit in sun_path",
            bytes.len()
        )));
    }
    Ok(())
}

/// Where a socket is bound or connected: an IP socket address, or a unix one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// IPv4 or IPv6 address and port.
    Ip(SocketAddr),
    /// A unix path, abstract name, or unnamed.
    Unix(UnixAddr),
}

impl Address {
    /// The kernel's address (`getsockname`, `accept`, `recvfrom`) as one of ours.
    ///
    /// # Errors
    /// `EAFNOSUPPORT` for a family that is neither IP nor unix.
    pub fn from_any(any: &SocketAddrAny) -> core::result::Result<Self, Errno> {
        match any.address_family() {
            AddressFamily::INET | AddressFamily::INET6 => SocketAddr::try_from(any.clone())
                .map(Self::Ip)
                .map_err(|_| Errno::AFNOSUPPORT),
            // Longer than a sockaddr_un: a peer's path without its NUL.
            AddressFamily::UNIX if any.addr_len() as usize > SOCKADDR_UN_LEN => {
                Ok(Self::Unix(UnixAddr(Unix::FullPath)))
            }
            AddressFamily::UNIX => SocketAddrUnix::try_from(any.clone())
                .map(|unix| Self::Unix(UnixAddr::from_rustix(&unix)))
                .map_err(|_| Errno::AFNOSUPPORT),
            _ => Err(Errno::AFNOSUPPORT),
        }
    }

    /// As the address argument of `bind`, `connect` and `sendto`.
    ///
    /// # Errors
    /// As [`UnixAddr::to_rustix`].
    pub fn to_any(&self) -> core::result::Result<SocketAddrAny, Errno> {
        match self {
            Self::Ip(addr) => Ok(SocketAddrAny::from(*addr)),
            Self::Unix(unix) => unix.to_rustix().map(SocketAddrAny::from),
        }
    }

    /// The `socket(2)` domain.
    pub fn family(&self) -> AddressFamily {
        match self {
            Self::Ip(SocketAddr::V4(_)) => AddressFamily::INET,
            Self::Ip(SocketAddr::V6(_)) => AddressFamily::INET6,
            Self::Unix(_) => AddressFamily::UNIX,
        }
    }

    /// The IP socket address, if this is one.
    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            Self::Ip(addr) => Some(*addr),
            Self::Unix(_) => None,
        }
    }

    /// The unix address, if this is one.
    pub fn unix(&self) -> Option<&UnixAddr> {
        match self {
            Self::Unix(unix) => Some(unix),
            Self::Ip(_) => None,
        }
    }
}

/// A transport and an address: everything `init_socket`, `bind_socket`
/// and `connect_socket` need.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Stream or datagram.
    pub kind: Kind,
    /// IP or unix, and where.
    pub address: Address,
}

impl Endpoint {
    /// `kind` at `address`.
    pub fn new(kind: Kind, address: Address) -> Self {
        Self { kind, address }
    }

    /// TCP at `addr`.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self::new(Kind::Stream, Address::Ip(addr))
    }

    /// UDP at `addr`.
    pub fn udp(addr: SocketAddr) -> Self {
        Self::new(Kind::Datagram, Address::Ip(addr))
    }

    /// A unix socket of `kind` at the command-line argument `arg` (a path,
    /// or `@name`).
    ///
    /// # Errors
    /// As [`UnixAddr::parse`].
    pub fn unix(kind: Kind, arg: impl AsRef<OsStr>) -> Result<Self> {
        Ok(Self::new(kind, Address::Unix(UnixAddr::parse(arg)?)))
    }

    /// An IP literal and port of the command line (see
    /// [`crate::addr::parse_socket_addr`]); for host names, see
    /// [`crate::resolve::endpoints`].
    ///
    /// # Errors
    /// [`Error::Usage`] naming the bad argument.
    pub fn parse_ip(kind: Kind, ip: &str, port: &str) -> Result<Self> {
        let addr = crate::addr::parse_socket_addr(ip, port)?;
        Ok(Self::new(kind, Address::Ip(addr)))
    }

    /// Which of the four transports.
    pub fn transport(&self) -> Transport {
        match (self.kind, &self.address) {
            (Kind::Stream, Address::Ip(_)) => Transport::Tcp,
            (Kind::Datagram, Address::Ip(_)) => Transport::Udp,
            (Kind::Stream, Address::Unix(_)) => Transport::UnixStream,
            (Kind::Datagram, Address::Unix(_)) => Transport::UnixDatagram,
        }
    }

    /// The `socket(2)` protocol: TCP or UDP for IP, the default for unix.
    pub fn protocol(&self) -> Option<Protocol> {
        match self.transport() {
            Transport::Tcp => Some(ipproto::TCP),
            Transport::Udp => Some(ipproto::UDP),
            Transport::UnixStream | Transport::UnixDatagram => None,
        }
    }

    /// The IP socket address, if this is TCP or UDP.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.address.ip()
    }

    /// The same transport at another address (the one the kernel bound).
    pub fn at(&self, address: Address) -> Self {
        Self::new(self.kind, address)
    }
}

impl From<SocketAddr> for Endpoint {
    /// A socket address alone is TCP, as in the lesson's `utils.h`.
    fn from(addr: SocketAddr) -> Self {
        Self::tcp(addr)
    }
}

impl fmt::Display for UnixAddr {
    /// A path as it is, an abstract name as `@name`, no address as
    /// `(unnamed)`; bytes a terminal would act on are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        match &self.0 {
            Unix::Path(path) => crate::escape::push_escaped(&mut out, path.as_os_str().as_bytes()),
            Unix::Abstract(name) => {
                out.push(b'@');
                crate::escape::push_escaped(&mut out, name);
            }
            Unix::Unnamed => out.extend_from_slice(b"(unnamed)"),
            Unix::FullPath => out.extend_from_slice(b"(a 108-byte path)"),
        }
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

impl fmt::Display for Address {
    /// `127.0.0.1:7777`, `[::1]:80`, `/run/x.sock`, `@name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(addr) => write!(f, "{addr}"),
            Self::Unix(unix) => write!(f, "{unix}"),
        }
    }
}

impl fmt::Display for Endpoint {
    /// The address, as errors name it (`bind /run/x.sock: …`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_paths_and_abstract_names() {
        let path = UnixAddr::parse("/run/x.sock").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path.as_path(), Some(Path::new("/run/x.sock")));
        assert_eq!(path.to_string(), "/run/x.sock");
        let named = UnixAddr::parse("@sockd").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(named.as_abstract_name(), Some(&b"sockd"[..]));
        assert_eq!(named.to_string(), "@sockd");
        let file = UnixAddr::parse("./@x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.as_path(), Some(Path::new("./@x")));
        assert_eq!(UnixAddr::unnamed().to_string(), "(unnamed)");
    }

    #[test]
    fn what_does_not_fit_sun_path_is_a_usage_error() {
        let longest = "/".to_string() + &"a".repeat(UNIX_PATH_MAX - 1);
        assert!(UnixAddr::parse(&longest).is_ok());
        let longest_name = "@".to_string() + &"a".repeat(UNIX_PATH_MAX);
        assert!(UnixAddr::parse(&longest_name).is_ok());
        for bad in [
            longest.clone() + "a",
            longest_name + "a",
            String::new(),
            "@".to_string(),
            "/tmp/a\0b".to_string(),
        ] {
            match UnixAddr::parse(&bad) {
                Err(Error::Usage(message)) => assert!(!message.contains('\n'), "{message}"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let Err(Error::Usage(message)) = UnixAddr::parse(longest + "a") else {
            panic!("a 108-byte path was taken");
        };
        assert!(message.contains("is 108 bytes; at most 107"), "{message}");
    }

    #[test]
    fn rustix_round_trips_every_form() {
        for addr in [
            UnixAddr::parse("/tmp/s").unwrap_or_else(|e| panic!("{e}")),
            UnixAddr::parse("@s").unwrap_or_else(|e| panic!("{e}")),
            UnixAddr::unnamed(),
        ] {
            let raw = addr.to_rustix().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(UnixAddr::from_rustix(&raw), addr);
            let any = Address::Unix(addr.clone())
                .to_any()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(Address::from_any(&any), Ok(Address::Unix(addr)));
        }
        let ip = Address::Ip(SocketAddr::from(([127, 0, 0, 1], 9)));
        let any = ip.to_any().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Address::from_any(&any), Ok(ip));
    }

    #[test]
    fn names_escape_what_a_terminal_would_act_on() {
        let addr = UnixAddr::parse("/tmp/\x1b[2Jx").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(addr.to_string(), "/tmp/\\x1b[2Jx");
        let raw = SocketAddrUnix::new_abstract_name(b"a\0b").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(UnixAddr::from_rustix(&raw).to_string(), "@a\\x00b");
    }

    #[test]
    fn kind_and_address_make_the_four_transports() {
        let ip = SocketAddr::from(([127, 0, 0, 1], 7));
        let unix = || Address::Unix(UnixAddr::unnamed());
        let cases = [
            (Endpoint::tcp(ip), Transport::Tcp, Some(ipproto::TCP)),
            (Endpoint::udp(ip), Transport::Udp, Some(ipproto::UDP)),
            (
                Endpoint::new(Kind::Stream, unix()),
                Transport::UnixStream,
                None,
            ),
            (
                Endpoint::new(Kind::Datagram, unix()),
                Transport::UnixDatagram,
                None,
            ),
        ];
        for (endpoint, transport, protocol) in cases {
            assert_eq!(endpoint.transport(), transport);
            assert_eq!(endpoint.protocol(), protocol);
        }
        assert_eq!(Endpoint::from(ip), Endpoint::tcp(ip));
        assert_eq!(Kind::from_udp_flag(true), Kind::Datagram);
    }
}
