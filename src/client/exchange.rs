//! One typed line's exchange with the server, and its reply shown as
//! `IP say:` lines (see [`super::interactive`] for what a reply is).

use super::{ClientOptions, connect_retrying};
use crate::addr::display_ip;
use crate::error::{Error, Result};
use crate::io::{recv_some, send_all, write_stdout};
use crate::transcript::{MessageSplitter, push_say_line};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{Shutdown, shutdown, sockopt};

/// Bytes taken per `recv`: also what bounds the transcript held before it
/// is written (a few bytes of `IP say: …` per byte received).
const RECV_CHUNK: usize = 16 * 1024;

/// A connection kept across lines (`--keep`) and the reply bytes read past
/// the last answer.
pub struct Kept {
    sock: OwnedFd,
    splitter: MessageSplitter,
    /// Received after the last answer's `\n` (at most one `recv`): the
    /// start of the next answer, not to be lost.
    unread: Vec<u8>,
}

/// Connects, with `--timeout` applied to every later send and recv.
fn connect_blocking(options: &ClientOptions) -> Result<OwnedFd> {
    let addr = options.addr;
    let sock = connect_retrying(addr, options.timeout, options.wait)?;
    let setup = rustix::io::ioctl_fionbio(&sock, false)
        .and_then(|()| {
            sockopt::set_socket_timeout(&sock, sockopt::Timeout::Recv, Some(options.timeout))
        })
        .and_then(|()| {
            sockopt::set_socket_timeout(&sock, sockopt::Timeout::Send, Some(options.timeout))
        });
    setup.map_err(|errno| Error::at("setsockopt", addr, errno))?;
    Ok(sock)
}

/// The lesson's exchange: connect, send `line`, then show the answer until
/// the server closes. Each message's line is written as soon as the `recv`
/// holding its `\n` returns: a server that never stops talking is shown as
/// it talks, in bounded memory (the message in progress is capped by the
/// splitter, and at most one `recv`'s worth of transcript waits).
pub fn once(options: &ClientOptions, line: &[u8]) -> Result<()> {
    let addr = options.addr;
    // Formatted once: an `IpAddr` formatted per line was three quarters of
    // the time spent on a stream of empty lines.
    let ip = display_ip(addr.ip()).to_string();
    let sock = connect_blocking(options)?;
    send_all(&sock, line).map_err(|errno| Error::at("send", addr, timed_out(errno)))?;
    shutdown(&sock, Shutdown::Write).map_err(|errno| Error::at("shutdown", addr, errno))?;
    let mut splitter = MessageSplitter::for_replies();
    let mut out = Vec::new();
    let mut said = false;
    let mut buf = [0u8; RECV_CHUNK];
    loop {
        let n = recv_some(&sock, &mut buf)
            .map_err(|errno| Error::at("recv", addr, timed_out(errno)))?;
        if n == 0 {
            break;
        }
        splitter.feed(&buf[..n], |m, d| push_say_line(&mut out, &ip, m, d));
        if !out.is_empty() {
            said = true;
            write_stdout(&out)?;
            out.clear();
        }
    }
    splitter.finish(|m, d| push_say_line(&mut out, &ip, m, d));
    if !said && out.is_empty() {
        push_say_line(&mut out, &ip, b"", 0);
    }
    write_stdout(&out)
}

/// `--keep`: send `line\n` on the kept connection and show one answer. A
/// connection the server closed while we were idle is replaced once.
pub fn kept(options: &ClientOptions, kept: &mut Option<Kept>, line: &[u8]) -> Result<()> {
    let (message, dropped) = kept_answer(options, kept, line)?.unwrap_or_default();
    let mut out = Vec::new();
    push_say_line(&mut out, display_ip(options.addr.ip()), &message, dropped);
    write_stdout(&out)
}

/// The answer to `line` on the kept connection; `None` when the server
/// closed without one.
fn kept_answer(
    options: &ClientOptions,
    kept: &mut Option<Kept>,
    line: &[u8],
) -> Result<Option<(Vec<u8>, usize)>> {
    let mut framed = line.to_vec();
    framed.push(b'\n');
    let mut reconnected = false;
    loop {
        let conn = match kept {
            Some(conn) => conn,
            None => {
                reconnected = true;
                kept.insert(Kept {
                    sock: connect_blocking(options)?,
                    splitter: MessageSplitter::for_replies(),
                    unread: Vec::new(),
                })
            }
        };
        let exchanged = send_all(&conn.sock, &framed)
            .map_err(|errno| ("send", timed_out(errno)))
            .and_then(|()| read_answer(conn).map_err(|errno| ("recv", errno)));
        match exchanged {
            Ok(Some(answer)) => return Ok(Some(answer)),
            Ok(None) if !reconnected => *kept = None,
            Ok(None) => {
                *kept = None;
                return Ok(None);
            }
            Err((_, Errno::PIPE | Errno::CONNRESET)) if !reconnected => *kept = None,
            Err((op, errno)) => {
                *kept = None;
                return Err(Error::at(op, options.addr, errno));
            }
        }
    }
}

/// Reads until one answer (what arrives up to a `\n`) is complete; `None`
/// if the server closed first. What follows the `\n` waits in `unread`.
fn read_answer(conn: &mut Kept) -> core::result::Result<Option<(Vec<u8>, usize)>, Errno> {
    let mut buf = [0u8; RECV_CHUNK];
    loop {
        if conn.unread.is_empty() {
            let n = recv_some(&conn.sock, &mut buf).map_err(timed_out)?;
            if n == 0 {
                let mut answer = None;
                conn.splitter.finish(|m, d| answer = Some((m.to_vec(), d)));
                return Ok(answer);
            }
            conn.unread.extend_from_slice(&buf[..n]);
        }
        let through = conn
            .unread
            .iter()
            .position(|&b| b == b'\n')
            .map_or(conn.unread.len(), |at| at + 1);
        let mut answer = None;
        conn.splitter.feed(&conn.unread[..through], |m, d| {
            answer = Some((m.to_vec(), d))
        });
        conn.unread.drain(..through);
        if answer.is_some() {
            return Ok(answer);
        }
    }
}

/// `SO_RCVTIMEO`/`SO_SNDTIMEO` expiry shows up as `EAGAIN`; to the user it
/// is the timeout they set.
fn timed_out(errno: Errno) -> Errno {
    if errno == Errno::AGAIN {
        Errno::TIMEDOUT
    } else {
        errno
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn a_kept_send_that_times_out_is_named_send() {
        // Listening, never accepting: the handshake completes in the backlog
        // and nothing reads, so a line far larger than the socket buffers
        // cannot be sent within the timeout.
        let (listener, addr) =
            crate::bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
        crate::socket::listen(&listener, addr, 8).unwrap_or_else(|e| panic!("{e}"));
        let options = ClientOptions {
            addr,
            message: None,
            keep: true,
            wait: None,
            timeout: Duration::from_millis(300),
        };
        let line = vec![b'a'; 64 << 20];
        let err = kept_answer(&options, &mut None, &line).err();
        let shown = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            shown,
            format!("send {addr}: connection timed out (ETIMEDOUT)")
        );
    }
}
