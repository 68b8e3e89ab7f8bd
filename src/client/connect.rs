//! Connecting for a script that may be racing the server's start: every
//! address of a name in turn, each attempt bounded by `--timeout`, and
//! under `--wait` again until the server is there.

use super::retry::Retry;
use super::{ClientOptions, ServerAddr, datagram};
use crate::endpoint::{Endpoint, Transport};
use crate::error::{Error, Result};
use crate::resolve::Failure;
use crate::socket::{connect_any, connect_timeout, local_addr};
use core::time::Duration;
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// First and longest pause between attempts under `--wait`.
const RETRY_FIRST: Duration = Duration::from_millis(5);
const RETRY_MAX: Duration = Duration::from_millis(100);

/// A connected socket and the endpoint it reached.
#[derive(Debug)]
pub struct Connected {
    /// Non-blocking.
    pub sock: OwnedFd,
    /// Which of the server's addresses answered.
    pub endpoint: Endpoint,
}

/// Connects within `timeout`; under `wait`, a server not there yet (see
/// [`not_there_yet`]) is tried again (a new socket each time, backing off
/// to 100 ms) until `wait` has passed. The socket is returned
/// non-blocking; `-v` logs what it connected to and from where.
///
/// # Errors
/// As [`connect_timeout`]; the last attempt's error once `wait` is used up.
pub fn connect_retrying(
    target: impl Into<Endpoint>,
    timeout: Duration,
    wait: Option<Duration>,
) -> Result<OwnedFd> {
    let target = target.into();
    let attempt = || connect_timeout(&target, timeout).map(|sock| (sock, target.clone()));
    retrying(wait, attempt).map(|connected| connected.sock)
}

/// Connects to the server: each of its addresses in the resolver's order,
/// each attempt bounded by `--timeout`, all of it again under `--wait`
/// (the name looked up anew each time). `-v` says which address answered
/// and from where.
///
/// # Errors
/// The last address's error; an unknown host (68) or a resolver failing
/// for now (75, retried under `--wait`).
pub fn connect(options: &ClientOptions) -> Result<Connected> {
    retrying(options.wait, || attempt(&options.server, options.timeout))
}

/// One try at every address of `server`.
///
/// # Errors
/// As [`connect`], without the retrying.
pub fn attempt(server: &ServerAddr, timeout: Duration) -> Result<(OwnedFd, Endpoint)> {
    connect_any(&server.endpoints()?, timeout)
}

fn retrying(
    wait: Option<Duration>,
    mut attempt: impl FnMut() -> Result<(OwnedFd, Endpoint)>,
) -> Result<Connected> {
    let mut retry = Retry::new(wait, RETRY_FIRST, RETRY_MAX);
    loop {
        match attempt() {
            Ok((sock, endpoint)) => {
                log_connected(&sock, &endpoint);
                return Ok(Connected { sock, endpoint });
            }
            Err(err) if not_there_yet(&err) => {
                let Some(pause) = retry.next() else {
                    return Err(gave_up(err, wait));
                };
                log::debug!("{err}; retrying in {pause:?}");
                std::thread::sleep(pause);
            }
            Err(err) => return Err(err),
        }
    }
}

/// `err`, the last failure once `wait` (if any) ran out: its hint says how
/// long was waited instead of suggesting `--wait`.
pub fn gave_up(err: Error, wait: Option<Duration>) -> Error {
    match wait {
        Some(wait) => err.gave_up("--wait", wait),
        None => err,
    }
}

/// As `nc -v`: which server, and from which local address.
pub fn log_connected(sock: &OwnedFd, endpoint: &Endpoint) {
    match local_addr(sock) {
        Ok(local) => log::info!("connected to {endpoint} from {local}"),
        Err(_) => log::info!("connected to {endpoint}"),
    }
}

/// A server still starting: refused; for unix, no socket file yet; a
/// connect attempt that timed out (a SYN nobody answers yet: a host still
/// booting, a firewall not yet open); a resolver that failed for now. An
/// unknown host is not retried: a typo should fail at once (68).
pub fn not_there_yet(err: &Error) -> bool {
    if let Error::Resolve { failure, .. } = err {
        return *failure == Failure::Again;
    }
    let Error::Os { op, target, errno } = err else {
        return false;
    };
    match *errno {
        Errno::CONNREFUSED => true,
        Errno::NOENT => matches!(target, crate::error::Target::Unix(_)),
        Errno::TIMEDOUT => *op == "connect",
        _ => false,
    }
}

/// `-z`: connect (to any of the server's addresses, under `--wait` until
/// one answers) and close, sending nothing. A unix datagram socket's
/// `connect` already proves a socket is bound at the path; UDP has no
/// handshake, so it is asked with an empty datagram ([`datagram::probe`]).
///
/// # Errors
/// As [`connect`].
pub fn zero(options: &ClientOptions) -> Result<()> {
    if options.server.transport() == Transport::Udp {
        return datagram::probe(options);
    }
    // Closed at once: the server sees a connection and its end, no byte.
    connect(options).map(drop)
}
