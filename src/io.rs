//! The edges the raw calls leave to us: `EINTR`, partial writes, `EPIPE`.
//!
//! Every program reads and writes through these, so a short write or an
//! interrupted call is handled in one place.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

/// `write(2)` until all of `bytes` is written, across partial writes and `EINTR`.
///
/// # Errors
/// The first errno other than `EINTR` (`EAGAIN` on a non-blocking fd, `EPIPE`).
pub fn write_all(fd: impl AsFd, mut bytes: &[u8]) -> core::result::Result<(), Errno> {
    while !bytes.is_empty() {
        match rustix::io::write(fd.as_fd(), bytes) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// `send(2)` with `MSG_NOSIGNAL` until all of `bytes` is sent, across partial
/// sends and `EINTR`: a peer that went away is an `EPIPE`, never a SIGPIPE.
///
/// # Errors
/// The first errno other than `EINTR` (`EPIPE`, `ECONNRESET`, `EAGAIN`).
pub fn send_all(fd: impl AsFd, mut bytes: &[u8]) -> core::result::Result<(), Errno> {
    while !bytes.is_empty() {
        match send_some(fd.as_fd(), bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// One `send(2)` with `MSG_NOSIGNAL`, retried on `EINTR`; may send less.
///
/// # Errors
/// `EAGAIN` on a full non-blocking socket, `EPIPE`, `ECONNRESET`.
pub fn send_some(fd: impl AsFd, bytes: &[u8]) -> core::result::Result<usize, Errno> {
    loop {
        match rustix::net::send(fd.as_fd(), bytes, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// One `recv(2)`, retried on `EINTR`; `Ok(0)` is end of stream.
///
/// # Errors
/// `EAGAIN` on an empty non-blocking socket, `ECONNRESET`.
pub fn recv_some(fd: impl AsFd, buf: &mut [u8]) -> core::result::Result<usize, Errno> {
    loop {
        match rustix::net::recv(fd.as_fd(), &mut *buf, RecvFlags::empty()) {
            Ok((n, _)) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
}

/// One `read(2)`, retried on `EINTR`; `Ok(0)` is end of file.
///
/// # Errors
/// `EAGAIN` on an empty non-blocking fd, `EIO`, `EISDIR`.
pub fn read_some(fd: impl AsFd, buf: &mut [u8]) -> core::result::Result<usize, Errno> {
    loop {
        match rustix::io::read(fd.as_fd(), &mut *buf) {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// stdout as the programs' data channel: unbuffered writes of whole chunks,
/// and a reader that went away (`| head`) reported as [`Error::StdoutClosed`].
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    match write_all(stdout(), bytes) {
        Ok(()) => Ok(()),
        Err(Errno::PIPE) => Err(Error::StdoutClosed),
        Err(errno) => Err(Error::on("write", "stdout", errno)),
    }
}

/// fd 0.
pub fn stdin() -> BorrowedFd<'static> {
    rustix::stdio::stdin()
}

/// fd 1.
pub fn stdout() -> BorrowedFd<'static> {
    rustix::stdio::stdout()
}

/// Whether fd 0 is a terminal: when it is not, typed lines are echoed after
/// prompts so the transcript reads like the lesson's.
pub fn stdin_is_terminal() -> bool {
    rustix::termios::isatty(stdin())
}

/// Lines read from a raw fd with one buffer: no `std::io::Stdin` lock, and the
/// bytes after a line stay for the next call.
#[derive(Debug, Default)]
pub struct LineReader {
    pending: Vec<u8>,
    eof: bool,
}

impl LineReader {
    /// A reader with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// A complete line already buffered (without its `\n`, or `\r\n`), or, at
    /// end of input, whatever is left. `None` means read more (or, after EOF,
    /// that nothing is left).
    pub fn take_line(&mut self) -> Option<Vec<u8>> {
        if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some(line);
        }
        if self.eof && !self.pending.is_empty() {
            return Some(std::mem::take(&mut self.pending));
        }
        None
    }

    /// Whether the input has ended.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// One `read(2)` from `fd` into the buffer.
    ///
    /// # Errors
    /// The errno of `read`, `EINTR` aside.
    pub fn fill_from(&mut self, fd: impl AsFd) -> core::result::Result<(), Errno> {
        let mut chunk = [0u8; 4096];
        let n = read_some(fd, &mut chunk)?;
        if n == 0 {
            self.eof = true;
        }
        self.pending.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_reader_splits_lines_and_keeps_the_rest() {
        let (read_end, write_end) = rustix::pipe::pipe().unwrap_or_else(|e| panic!("{e}"));
        write_all(&write_end, b"hi\r\nbye\npartial").unwrap_or_else(|e| panic!("{e}"));
        drop(write_end);
        let mut lines = LineReader::new();
        let mut got = Vec::new();
        loop {
            while let Some(line) = lines.take_line() {
                got.push(line);
            }
            if lines.at_eof() {
                break;
            }
            lines.fill_from(&read_end).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(
            got,
            vec![b"hi".to_vec(), b"bye".to_vec(), b"partial".to_vec()]
        );
    }

    #[test]
    fn send_all_to_a_closed_peer_is_epipe_not_sigpipe() {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        drop(b);
        assert_eq!(send_all(&a, b"x"), Err(Errno::PIPE));
    }
}
