//! The one error type: what was tried, on what, and what the kernel said.

use crate::endpoint::{Address, Endpoint, UnixAddr};
use crate::errno::errno_name;
use crate::exit::Exit;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use rustix::io::Errno;

/// Everything a sockkit operation can fail with.
#[derive(Debug)]
pub enum Error {
    /// Bad arguments: the message says which and why (exit 64).
    Usage(String),
    /// A syscall failed: `op` (`"bind"`, `"connect"`, …) on `target` with `errno`.
    Os {
        /// The operation, named as the syscall or the user's view of it.
        op: &'static str,
        /// What it was applied to: a socket address, a path, `stdin`.
        target: Target,
        /// What the kernel answered (our own timeouts use `ETIMEDOUT`).
        errno: Errno,
    },
    /// An `std::io` operation failed without an errno: std's own checks (a
    /// NUL inside a path, a write that wrote nothing) or a library's refusal.
    /// Not a syscall failure, so it names no errno rather than borrow one
    /// (exit 71, as any other failure of the OS layer).
    Io {
        /// The operation, as for [`Error::Os`].
        op: &'static str,
        /// What it was applied to.
        target: Target,
        /// What std (or the library) said.
        message: String,
    },
    /// stdout was closed by its reader (`| head`): a clean end, not a failure.
    StdoutClosed,
    /// A failure another process has already reported on the stderr we
    /// share (the detached server under `--background`): nothing is left to
    /// print, only its exit code to end with.
    Reported(Exit),
    /// An echo server sent back bytes that differ from what was sent, or
    /// more than was sent (`sockbench`; exit 71). The message says where.
    WrongEcho(String),
    /// An echo server never sent a whole echo back (`sockbench`; exit 69).
    NoEcho(String),
    /// The resolver gave no address for a host name: unknown (exit 68),
    /// or not now (exit 75).
    Resolve {
        /// The name, as given.
        host: String,
        /// The resolver's `EAI_*` code.
        failure: crate::resolve::Failure,
    },
    /// A failure that outlasted what the user allowed for it: still refused
    /// when `--wait` ran out, or nothing within `--timeout`. Everything but
    /// the hint is `error`'s; the hint says how long was allowed.
    GaveUp {
        /// The last failure.
        error: Box<Error>,
        /// The flag that set the allowance (`"--wait"`, `"--timeout"`).
        flag: &'static str,
        /// How long it allowed.
        allowed: Duration,
    },
    /// A failure whose hint only the caller could give, having looked
    /// further (what is at a unix path sockd could not bind: a live
    /// server, a stale socket file, no socket at all). Everything but the
    /// hint is `error`'s.
    Hinted {
        /// The failure.
        error: Box<Error>,
        /// What the caller found.
        hint: String,
    },
}

/// What a failed operation was applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A socket address (`127.0.0.1:7777`, `[::1]:80`).
    Addr(SocketAddr),
    /// A unix socket address (`/run/x.sock`, `@name`).
    Unix(UnixAddr),
    /// Anything else, already rendered (a path, `stdin`).
    Other(String),
}

/// `Result` with sockkit's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// A failed syscall on a socket address or an endpoint.
    pub fn at(op: &'static str, target: impl Into<Target>, errno: Errno) -> Self {
        Self::Os {
            op,
            target: target.into(),
            errno,
        }
    }

    /// A failed syscall on something that is not a socket address.
    pub fn on(op: &'static str, target: impl fmt::Display, errno: Errno) -> Self {
        Self::Os {
            op,
            target: Target::Other(target.to_string()),
            errno,
        }
    }

    /// A failed read of a typed line from stdin ([`crate::io::LineReader`]);
    /// a line refused for its length says what the longest is.
    pub fn reading_stdin(errno: Errno) -> Self {
        let error = Self::on("read", "stdin", errno);
        if errno == Errno::MSGSIZE {
            let most = crate::io::MAX_LINE >> 20;
            return error.hinted(format!("a typed line is at most {most} MiB"));
        }
        error
    }

    /// A failed `std::io` operation: [`Error::Os`] with the errno when the
    /// `io::Error` carries one (every failed syscall does), else
    /// [`Error::Io`] with std's message.
    pub fn from_io(op: &'static str, target: impl fmt::Display, err: &std::io::Error) -> Self {
        match Errno::from_io_error(err) {
            Some(errno) => Self::on(op, target, errno),
            None => Self::Io {
                op,
                target: Target::Other(target.to_string()),
                message: err.to_string(),
            },
        }
    }

    /// This failure, as the end of what `flag` allowed for `allowed`: its
    /// hint says how long that was, instead of suggesting the flag.
    pub fn gave_up(self, flag: &'static str, allowed: Duration) -> Self {
        Self::GaveUp {
            error: Box::new(self),
            flag,
            allowed,
        }
    }

    /// This failure with `hint` in place of its own.
    pub fn hinted(self, hint: String) -> Self {
        Self::Hinted {
            error: Box::new(self),
            hint,
        }
    }

    /// The errno, when the failure came from the kernel (or a timeout).
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Os { errno, .. } => Some(*errno),
            Self::GaveUp { error, .. } | Self::Hinted { error, .. } => error.errno(),
            _ => None,
        }
    }

    /// The exit code this failure ends a program with (the README's table).
    pub fn exit(&self) -> Exit {
        match self {
            Self::Usage(_) => Exit::Usage,
            // No socket at the path: nobody is there to serve, as a refusal.
            Self::Os {
                op: "connect",
                target: Target::Unix(_),
                errno: Errno::NOENT,
            } => Exit::Unavailable,
            Self::Os { errno, .. } => Exit::from_errno(*errno),
            Self::Io { .. } => Exit::OsError,
            Self::StdoutClosed => Exit::Success,
            Self::Reported(exit) => *exit,
            Self::WrongEcho(_) => Exit::OsError,
            Self::NoEcho(_) => Exit::Unavailable,
            Self::Resolve { failure, .. } => failure.exit(),
            Self::GaveUp { error, .. } | Self::Hinted { error, .. } => error.exit(),
        }
    }

    /// A second line for the failures the lesson's `utils.h` silently
    /// ignores, and for those a flag could have helped with.
    pub fn hint(&self) -> Option<String> {
        if let Self::Resolve { host, failure } = self {
            return resolve_hint(host, *failure);
        }
        if let Self::Hinted { hint, .. } = self {
            return Some(hint.clone());
        }
        if let Self::GaveUp {
            error,
            flag,
            allowed,
        } = self
        {
            return error.hint_after(flag, *allowed);
        }
        let Self::Os { op, target, errno } = self else {
            return None;
        };
        let addr = match target {
            Target::Addr(addr) => addr,
            Target::Unix(unix) => return unix_hint(op, *errno, unix),
            Target::Other(_) => return None,
        };
        match (*op, *errno) {
            ("bind", Errno::ADDRINUSE) => Some(format!(
                "another socket holds {addr}; `sockstat -l -p {}` shows which process",
                addr.port()
            )),
            ("bind", Errno::ACCESS) => Some(
                "ports below 1024 (net.ipv4.ip_unprivileged_port_start) need root or CAP_NET_BIND_SERVICE"
                    .to_string(),
            ),
            ("connect", Errno::CONNREFUSED) => Some(format!(
                "nothing listens on {addr}; start the server first, or pass --wait SECS"
            )),
            ("bind", Errno::ADDRNOTAVAIL) => Some(format!(
                "{} is not an address of this host; `ip addr` lists them",
                addr.ip()
            )),
            ("connect", Errno::ADDRNOTAVAIL) => Some(format!(
                "no local port is free for another connection to {addr} \
                 (net.ipv4.ip_local_port_range)"
            )),
            _ => None,
        }
    }

    /// The hint of a failure that `flag` allowed `allowed` for.
    fn hint_after(&self, flag: &str, allowed: Duration) -> Option<String> {
        // The caller who looked closer knows better than the flag's word.
        if let Self::Hinted { hint, .. } = self {
            return Some(hint.clone());
        }
        let secs = allowed.as_secs_f64();
        match (flag, self.errno()) {
            ("--wait", Some(Errno::CONNREFUSED)) => Some(format!(
                "nothing listened on {} during the {secs} s of --wait; is the server \
                 started, on that address?",
                self.target()?
            )),
            ("--wait", Some(Errno::NOENT)) => Some(format!(
                "no socket appeared at {} during the {secs} s of --wait; is the server \
                 started, at that path?",
                self.target()?
            )),
            ("--timeout", Some(Errno::TIMEDOUT)) => Some(format!(
                "no progress with {} for {secs} s (--timeout); a slower server needs \
                 a larger --timeout SECS",
                self.target()?
            )),
            _ => self.hint(),
        }
    }

    /// What the failed operation was applied to.
    fn target(&self) -> Option<&Target> {
        match self {
            Self::Os { target, .. } | Self::Io { target, .. } => Some(target),
            Self::GaveUp { error, .. } | Self::Hinted { error, .. } => error.target(),
            _ => None,
        }
    }
}

/// The hint for a failure on a unix socket address: a path's file that is
/// there (live or stale) or missing, an abstract name held or not, the
/// permissions a path needs.
fn unix_hint(op: &str, errno: Errno, unix: &UnixAddr) -> Option<String> {
    let named = unix.as_abstract_name().is_some();
    let hint = match (op, errno, named) {
        ("bind", Errno::ADDRINUSE, false) => format!(
            "a file exists at {unix}: a live server's socket, or a stale one its server left; \
             `sockd --unlink` removes it only if nobody listens"
        ),
        ("bind", Errno::ADDRINUSE, true) => {
            format!("another socket holds {unix}; `sockstat -u` shows which process")
        }
        ("bind", Errno::ACCESS, false) => {
            format!("this user may not create {unix}: its directory is not writable")
        }
        ("connect", Errno::NOENT, false) => format!(
            "no socket at {unix}: no server has created it; start the server first, or pass --wait SECS"
        ),
        ("connect", Errno::CONNREFUSED, false) => format!(
            "nothing listens on {unix}: the socket file is stale (its server ended without removing it); \
             remove it, or start the server with --unlink"
        ),
        ("connect", Errno::CONNREFUSED, true) => {
            format!("no socket holds {unix}; start the server first, or pass --wait SECS")
        }
        ("connect", Errno::ACCESS, false) => format!(
            "this user may not connect to {unix}: that takes write permission on the socket file \
             and search permission on its directories"
        ),
        ("connect", Errno::TIMEDOUT, _) => format!(
            "the backlog of {unix} stayed full until --timeout ran out: its server is not accepting"
        ),
        _ => return None,
    };
    Some(hint)
}

/// The hint for a host name the resolver gave no address for.
fn resolve_hint(host: &str, failure: crate::resolve::Failure) -> Option<String> {
    use crate::resolve::Failure;
    match failure {
        Failure::NoName | Failure::NoData => Some(format!(
            "the resolver (/etc/hosts, then DNS) does not know {host}; check the name, or give an IP address"
        )),
        Failure::Again => Some(
            "the resolver could not answer now (is DNS reachable? see /etc/resolv.conf); try again, or give an IP address"
                .to_string(),
        ),
        _ => None,
    }
}

/// `"address already in use (EADDRINUSE)"`: strerror's text without its
/// "(os error N)" tail, and the name a user can search for.
pub fn describe_errno(errno: Errno) -> String {
    let raw = errno.raw_os_error();
    let text = std::io::Error::from_raw_os_error(raw).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    let text: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    match errno_name(raw) {
        Some(name) => format!("{text} ({name})"),
        None => format!("{text} (errno {raw})"),
    }
}

impl From<SocketAddr> for Target {
    fn from(addr: SocketAddr) -> Self {
        Self::Addr(addr)
    }
}

impl From<&Address> for Target {
    fn from(address: &Address) -> Self {
        match address {
            Address::Ip(addr) => Self::Addr(*addr),
            Address::Unix(unix) => Self::Unix(unix.clone()),
        }
    }
}

impl From<&Endpoint> for Target {
    fn from(endpoint: &Endpoint) -> Self {
        Self::from(&endpoint.address)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(addr) => write!(f, "{addr}"),
            Self::Unix(unix) => write!(f, "{unix}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::WrongEcho(message) | Self::NoEcho(message) => {
                f.write_str(message)
            }
            Self::Os { op, target, errno } => {
                write!(f, "{op} {target}: {}", describe_errno(*errno))
            }
            Self::Io {
                op,
                target,
                message,
            } => write!(f, "{op} {target}: {message}"),
            Self::StdoutClosed => f.write_str("stdout closed"),
            Self::Reported(exit) => write!(f, "failed with exit code {}", exit.code()),
            Self::Resolve { host, failure } => write!(
                f,
                "resolve {host}: {} ({})",
                failure.describe(),
                failure.name()
            ),
            Self::GaveUp { error, .. } | Self::Hinted { error, .. } => error.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    fn loopback(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn renders_op_address_description_and_name() {
        let err = Error::at("bind", loopback(7777), Errno::ADDRINUSE);
        assert_eq!(
            err.to_string(),
            "bind 127.0.0.1:7777: address already in use (EADDRINUSE)"
        );
        assert_eq!(err.exit(), Exit::TempFail);
        let hint = err.hint().unwrap_or_default();
        assert!(hint.contains("sockstat -l -p 7777"), "{hint}");
    }

    #[test]
    fn refused_connect_hints_at_wait() {
        let err = Error::at("connect", loopback(9), Errno::CONNREFUSED);
        assert_eq!(
            err.to_string(),
            "connect 127.0.0.1:9: connection refused (ECONNREFUSED)"
        );
        assert_eq!(err.exit(), Exit::Unavailable);
        assert!(err.hint().unwrap_or_default().contains("--wait"));
    }

    #[test]
    fn privileged_bind_hints_at_the_sysctl() {
        let err = Error::at("bind", loopback(80), Errno::ACCESS);
        assert!(err.to_string().ends_with("(EACCES)"));
        assert_eq!(err.exit(), Exit::NoPermission);
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("ip_unprivileged_port_start")
        );
    }

    #[test]
    fn a_failure_past_its_allowance_keeps_all_but_the_hint() {
        let refused = || Error::at("connect", loopback(9), Errno::CONNREFUSED);
        let waited = refused().gave_up("--wait", Duration::from_secs(30));
        assert_eq!(waited.to_string(), refused().to_string());
        assert_eq!(waited.exit(), Exit::Unavailable);
        assert_eq!(waited.errno(), Some(Errno::CONNREFUSED));
        assert_eq!(
            waited.hint().as_deref(),
            Some(
                "nothing listened on 127.0.0.1:9 during the 30 s of --wait; \
                 is the server started, on that address?"
            )
        );
        let timed = Error::at("recv", loopback(9), Errno::TIMEDOUT)
            .gave_up("--timeout", Duration::from_millis(2500));
        assert_eq!(timed.exit(), Exit::TempFail);
        let hint = timed.hint().unwrap_or_default();
        assert!(hint.contains("127.0.0.1:9 for 2.5 s (--timeout)"), "{hint}");
        // A failure the flag had nothing to do with keeps its own hint.
        let in_use = Error::at("bind", loopback(9), Errno::ADDRINUSE)
            .gave_up("--wait", Duration::from_secs(1));
        assert!(
            in_use
                .hint()
                .unwrap_or_default()
                .contains("sockstat -l -p 9")
        );
    }

    #[test]
    fn a_hint_from_the_caller_replaces_the_errors_own() {
        let in_use = || Error::at("bind", loopback(9), Errno::ADDRINUSE);
        let hinted = in_use().hinted("a server (pid 7) listens there".to_string());
        assert_eq!(hinted.to_string(), in_use().to_string());
        assert_eq!(hinted.exit(), Exit::TempFail);
        assert_eq!(hinted.errno(), Some(Errno::ADDRINUSE));
        assert_eq!(
            hinted.hint().as_deref(),
            Some("a server (pid 7) listens there")
        );
    }

    #[test]
    fn an_unavailable_address_hints_by_operation() {
        let bind = Error::at(
            "bind",
            "[::2]:0".parse().unwrap_or(loopback(0)),
            Errno::ADDRNOTAVAIL,
        );
        assert_eq!(
            bind.hint().as_deref(),
            Some("::2 is not an address of this host; `ip addr` lists them")
        );
        let connect = Error::at("connect", loopback(9), Errno::ADDRNOTAVAIL);
        let hint = connect.hint().unwrap_or_default();
        assert!(hint.contains("ip_local_port_range"), "{hint}");
        assert_eq!(connect.exit(), Exit::OsError);
    }

    #[test]
    fn other_errors_have_no_hint() {
        let err = Error::on("read", "stdin", Errno::IO);
        assert_eq!(err.hint(), None);
        assert_eq!(err.exit(), Exit::OsError);
        assert!(err.to_string().starts_with("read stdin: "), "{err}");
    }

    #[test]
    fn io_errors_keep_their_errno_or_name_none() {
        let os = std::io::Error::from_raw_os_error(Errno::ACCESS.raw_os_error());
        let err = Error::from_io("open", "/x", &os);
        assert_eq!(err.errno(), Some(Errno::ACCESS));
        assert_eq!(err.exit(), Exit::NoPermission);
        let std_only = std::io::Error::new(std::io::ErrorKind::InvalidInput, "nul in path");
        let err = Error::from_io("open", "/x", &std_only);
        assert_eq!(err.errno(), None);
        assert_eq!(err.exit(), Exit::OsError);
        assert_eq!(err.to_string(), "open /x: nul in path");
    }

    #[test]
    fn echo_failures_have_their_own_codes() {
        let wrong = Error::WrongEcho("echo differed".to_string());
        assert_eq!((wrong.exit(), wrong.errno()), (Exit::OsError, None));
        assert_eq!(wrong.to_string(), "echo differed");
        let none = Error::NoEcho("no echo came back".to_string());
        assert_eq!((none.exit(), none.errno()), (Exit::Unavailable, None));
    }

    #[test]
    fn unix_failures_name_the_path_and_hint_at_what_is_there() {
        let path = |text: &str| UnixAddr::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let hint = |op, errno, at: &str| {
            let err = Error::at(op, &Address::Unix(path(at)), errno);
            (err.to_string(), err.exit(), err.hint().unwrap_or_default())
        };
        let (shown, exit, stale) = hint("connect", Errno::CONNREFUSED, "/run/x.sock");
        assert_eq!(
            shown,
            "connect /run/x.sock: connection refused (ECONNREFUSED)"
        );
        assert_eq!(exit, Exit::Unavailable);
        assert!(
            stale.contains("stale") && stale.contains("--unlink"),
            "{stale}"
        );
        let (shown, exit, missing) = hint("connect", Errno::NOENT, "/run/x.sock");
        assert_eq!(
            shown,
            "connect /run/x.sock: no such file or directory (ENOENT)"
        );
        assert_eq!(exit, Exit::Unavailable);
        assert!(missing.contains("no server has created it"), "{missing}");
        let (_, exit, held) = hint("bind", Errno::ADDRINUSE, "/run/x.sock");
        assert_eq!(exit, Exit::TempFail);
        assert!(held.contains("a file exists at /run/x.sock"), "{held}");
        let (shown, _, named) = hint("bind", Errno::ADDRINUSE, "@sockd");
        assert_eq!(shown, "bind @sockd: address already in use (EADDRINUSE)");
        assert!(named.contains("sockstat -u"), "{named}");
        let (_, _, unheld) = hint("connect", Errno::CONNREFUSED, "@sockd");
        assert!(unheld.contains("no socket holds @sockd"), "{unheld}");
        let (_, exit, denied) = hint("connect", Errno::ACCESS, "/run/x.sock");
        assert_eq!(exit, Exit::NoPermission);
        assert!(denied.contains("write permission"), "{denied}");
        // ENOENT elsewhere (a bind in a missing directory) is no refusal.
        let (_, exit, none) = hint("bind", Errno::NOENT, "/no/dir/x.sock");
        assert_eq!((exit, none.as_str()), (Exit::OsError, ""));
    }

    #[test]
    fn ipv6_addresses_are_bracketed() {
        let addr: SocketAddr = "[::1]:80".parse().unwrap_or(loopback(0));
        let err = Error::at("connect", addr, Errno::TIMEDOUT);
        assert_eq!(
            err.to_string(),
            "connect [::1]:80: connection timed out (ETIMEDOUT)"
        );
        assert_eq!(err.exit(), Exit::TempFail);
    }
}
