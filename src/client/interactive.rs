//! The lesson's client: `you say: `, a line, the server's answer, repeat.
//!
//! Each line goes on a connection of its own, as in the lesson, ended by
//! `shutdown(SHUT_WR)` so the server sees where it ends; with `--keep` all
//! lines share one connection and each is sent with a `\n`.

use super::{ClientOptions, connect_retrying};
use crate::addr::display_ip;
use crate::error::{Error, Result};
use crate::io::{LineReader, recv_some, send_all, stdin, stdin_is_terminal, write_stdout};
use crate::transcript::{MessageSplitter, push_say_line};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{Shutdown, shutdown, sockopt};

/// A connection kept across lines (`--keep`) and the reply bytes read past
/// the last answer.
struct Kept {
    sock: OwnedFd,
    splitter: MessageSplitter,
}

/// Runs the transcript loop until `q` or the end of stdin.
pub fn run(options: &ClientOptions) -> Result<()> {
    let mut typed = LineReader::new();
    let echo_typed = !stdin_is_terminal();
    let mut kept: Option<Kept> = None;
    loop {
        write_stdout(b"you say: ")?;
        let Some(line) = next_line(&mut typed)? else {
            write_stdout(b"\n")?;
            return Ok(());
        };
        if echo_typed {
            let mut shown = line.clone();
            shown.push(b'\n');
            write_stdout(&shown)?;
        }
        if line == b"q" {
            return Ok(());
        }
        let answers = if options.keep {
            exchange_kept(options, &mut kept, &line)?
        } else {
            exchange_once(options, &line)?
        };
        let ip = display_ip(options.addr.ip());
        let mut out = Vec::new();
        if answers.is_empty() {
            push_say_line(&mut out, ip, b"", 0);
        }
        for (message, dropped) in &answers {
            push_say_line(&mut out, ip, message, *dropped);
        }
        write_stdout(&out)?;
    }
}

fn next_line(typed: &mut LineReader) -> Result<Option<Vec<u8>>> {
    loop {
        if let Some(line) = typed.take_line() {
            return Ok(Some(line));
        }
        if typed.at_eof() {
            return Ok(None);
        }
        typed
            .fill_from(stdin())
            .map_err(|errno| Error::on("read", "stdin", errno))?;
    }
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

/// The lesson's exchange: connect, send, read the answer until the server
/// closes.
fn exchange_once(options: &ClientOptions, line: &[u8]) -> Result<Vec<(Vec<u8>, usize)>> {
    let addr = options.addr;
    let sock = connect_blocking(options)?;
    send_all(&sock, line).map_err(|errno| Error::at("send", addr, timed_out(errno)))?;
    shutdown(&sock, Shutdown::Write).map_err(|errno| Error::at("shutdown", addr, errno))?;
    let mut splitter = MessageSplitter::new();
    let mut answers = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match recv_some(&sock, &mut buf) {
            Ok(0) => break,
            Ok(n) => splitter.feed(&buf[..n], |m, d| answers.push((m.to_vec(), d))),
            Err(errno) => return Err(Error::at("recv", addr, timed_out(errno))),
        }
    }
    splitter.finish(|m, d| answers.push((m.to_vec(), d)));
    Ok(answers)
}

/// `--keep`: send `line\n` on the kept connection and read one answer. A
/// connection the server closed while we were idle is replaced once.
fn exchange_kept(
    options: &ClientOptions,
    kept: &mut Option<Kept>,
    line: &[u8],
) -> Result<Vec<(Vec<u8>, usize)>> {
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
                    splitter: MessageSplitter::new(),
                })
            }
        };
        let exchanged = send_all(&conn.sock, &framed)
            .map_err(|errno| ("send", timed_out(errno)))
            .and_then(|()| read_answer(conn).map_err(|errno| ("recv", errno)));
        match exchanged {
            Ok(Some(answer)) => return Ok(vec![answer]),
            Ok(None) if !reconnected => *kept = None,
            Ok(None) => {
                *kept = None;
                return Ok(Vec::new());
            }
            Err((_, Errno::PIPE | Errno::CONNRESET)) if !reconnected => *kept = None,
            Err((op, errno)) => {
                *kept = None;
                return Err(Error::at(op, options.addr, errno));
            }
        }
    }
}

/// Reads until one answer is complete; `None` if the server closed first.
fn read_answer(conn: &mut Kept) -> core::result::Result<Option<(Vec<u8>, usize)>, Errno> {
    let mut answer = None;
    let mut buf = [0u8; 4096];
    while answer.is_none() {
        match recv_some(&conn.sock, &mut buf).map_err(timed_out)? {
            0 => {
                conn.splitter.finish(|m, d| answer = Some((m.to_vec(), d)));
                return Ok(answer);
            }
            n => conn.splitter.feed(&buf[..n], |m, d| {
                answer.get_or_insert_with(|| (m.to_vec(), d));
            }),
        }
    }
    Ok(answer)
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
        let any = crate::Endpoint::tcp(core::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let (listener, bound) = crate::bind_socket(&any).unwrap_or_else(|e| panic!("{e}"));
        crate::socket::listen(&listener, &bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let addr = bound.socket_addr().unwrap_or_else(|| panic!("{bound}"));
        let options = ClientOptions {
            addr,
            message: None,
            keep: true,
            wait: None,
            timeout: Duration::from_millis(300),
        };
        let line = vec![b'a'; 64 << 20];
        let err = exchange_kept(&options, &mut None, &line).err();
        let shown = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            shown,
            format!("send {addr}: connection timed out (ETIMEDOUT)")
        );
    }
}
