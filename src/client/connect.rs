//! Connecting for a script that may be racing the server's start.

use crate::endpoint::Endpoint;
use crate::error::Result;
use crate::socket::connect_timeout;
use core::time::Duration;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use std::time::Instant;

/// First and longest pause between refused attempts under `--wait`.
const RETRY_FIRST: Duration = Duration::from_millis(5);
const RETRY_MAX: Duration = Duration::from_millis(100);

/// Connects within `timeout`; under `wait`, a refused connection (for
/// unix, also a missing socket file) is retried (a new socket each time,
/// backing off to 100 ms) until `wait` has passed. The socket is returned
/// non-blocking; `-v` logs what it connected to and from where.
///
/// # Errors
/// As [`connect_timeout`]; `ECONNREFUSED` (`ENOENT`) once `wait` is used up.
pub fn connect_retrying(
    target: impl Into<Endpoint>,
    timeout: Duration,
    wait: Option<Duration>,
) -> Result<OwnedFd> {
    let addr = target.into();
    let give_up = wait.map(|wait| Instant::now() + wait);
    let mut pause = RETRY_FIRST;
    loop {
        match connect_timeout(&addr, timeout) {
            Err(err) if not_there_yet(&err, &addr) => {
                let left = give_up.map_or(Duration::ZERO, |at| {
                    at.saturating_duration_since(Instant::now())
                });
                if left.is_zero() {
                    return Err(match wait {
                        Some(wait) => err.gave_up("--wait", wait),
                        None => err,
                    });
                }
                log::debug!("{addr} refused; retrying in {pause:?}");
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(RETRY_MAX);
            }
            Ok(sock) => {
                // As `nc -v`: which server, and from which local address.
                match crate::socket::local_addr(&sock) {
                    Ok(local) => log::info!("connected to {addr} from {local}"),
                    Err(_) => log::info!("connected to {addr}"),
                }
                return Ok(sock);
            }
            Err(err) => return Err(err),
        }
    }
}

/// Refused, or (unix) no socket file yet: a server still starting.
fn not_there_yet(err: &crate::Error, target: &Endpoint) -> bool {
    match err.errno() {
        Some(Errno::CONNREFUSED) => true,
        Some(Errno::NOENT) => target.address.unix().is_some(),
        _ => false,
    }
}
