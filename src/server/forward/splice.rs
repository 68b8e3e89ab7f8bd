//! A relay direction where nothing is transformed: the bytes go from one
//! socket into a pipe and from the pipe into the other socket with
//! `splice(2)`, never through user space.
//!
//! The pipe (created at the first byte, closed with the connection) holds
//! what was read and not yet written, at most its capacity ([`PIPE_BYTES`]
//! asked for; the kernel's 64 KiB if refused). While it holds any, the
//! destination was full: the source is not read again until it is empty
//! (backpressure, as the echo's pending bytes).

use super::relay::{Failed, Flow};
use crate::io::splice_some;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, fcntl_setpipe_size, pipe_with};

/// The capacity asked of each pipe: what one direction of one relay holds
/// at most.
pub const PIPE_BYTES: usize = 256 * 1024;

/// A pipe and the bytes in it.
#[derive(Debug, Default)]
pub struct Spliced {
    pipe: Option<(OwnedFd, OwnedFd)>,
    held: usize,
}

impl Spliced {
    /// Whether bytes wait in the pipe.
    pub fn holds(&self) -> bool {
        self.held > 0
    }

    /// Writes what the pipe holds into `dst`; then, if it is empty and
    /// `read`, one splice from `src` and one into `dst`. Sets
    /// `flow.blocked` when `dst` is full, `flow.eof` when `src` ended.
    ///
    /// # Errors
    /// The first failure, and on which end.
    pub fn pump(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        read: bool,
        flow: &mut Flow,
    ) -> Result<(), Failed> {
        self.drain(dst, flow)?;
        if flow.blocked || !read {
            return Ok(());
        }
        let (_, pipe_in) = match &self.pipe {
            Some(pipe) => pipe,
            None => self.pipe.insert(new_pipe().map_err(Failed::Pipe)?),
        };
        match splice_some(src, pipe_in, PIPE_BYTES) {
            Ok(0) => flow.eof = true,
            Ok(n) => {
                self.held = n;
                flow.read += n;
                self.drain(dst, flow)?;
            }
            Err(Errno::AGAIN) => {}
            Err(errno) => return Err(Failed::Source(errno)),
        }
        Ok(())
    }

    fn drain(&mut self, dst: BorrowedFd<'_>, flow: &mut Flow) -> Result<(), Failed> {
        let Some((pipe_out, _)) = &self.pipe else {
            return Ok(());
        };
        while self.held > 0 {
            match splice_some(pipe_out, dst, self.held) {
                Ok(n) => {
                    self.held -= n;
                    flow.written += n;
                }
                Err(Errno::AGAIN) => {
                    flow.blocked = true;
                    return Ok(());
                }
                Err(errno) => return Err(Failed::Destination(errno)),
            }
        }
        Ok(())
    }
}

/// `pipe2(O_CLOEXEC | O_NONBLOCK)`, then `fcntl(F_SETPIPE_SZ)` to
/// [`PIPE_BYTES`] (a refusal, over `fs.pipe-user-pages-soft`, leaves the
/// default). Returns (read end, write end).
fn new_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (read_end, write_end) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    let _ = fcntl_setpipe_size(&write_end, PIPE_BYTES);
    Ok((read_end, write_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fd::AsFd;
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

    fn pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .unwrap_or_else(|e| panic!("socketpair: {e}"))
    }

    #[test]
    fn bytes_cross_and_a_full_destination_holds_them_in_the_pipe() {
        let (client, src) = pair();
        let (dst, upstream) = pair();
        let mut spliced = Spliced::default();
        crate::io::send_all(&client, b"hello").unwrap_or_else(|e| panic!("{e}"));
        let mut flow = Flow::default();
        spliced
            .pump(src.as_fd(), dst.as_fd(), true, &mut flow)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((flow.read, flow.written, flow.blocked), (5, 5, false));
        let mut buf = [0u8; 16];
        let n = crate::io::recv_some(&upstream, &mut buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&buf[..n], b"hello");
        // Fill the destination: the pipe keeps the rest, and the source
        // is left alone until it drains.
        let chunk = vec![1u8; 64 * 1024];
        let mut blocked = false;
        for _ in 0..200 {
            let _ = crate::io::send_some(&client, &chunk);
            let mut flow = Flow::default();
            spliced
                .pump(src.as_fd(), dst.as_fd(), true, &mut flow)
                .unwrap_or_else(|e| panic!("{e:?}"));
            if flow.blocked {
                blocked = true;
                break;
            }
        }
        assert!(blocked && spliced.holds());
        let mut flow = Flow::default();
        spliced
            .pump(src.as_fd(), dst.as_fd(), true, &mut flow)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((flow.read, flow.blocked), (0, true), "not read while held");
        drop(client);
        drop(upstream);
        let mut flow = Flow::default();
        let failed = spliced.pump(src.as_fd(), dst.as_fd(), true, &mut flow);
        assert!(matches!(failed, Err(Failed::Destination(_))), "{failed:?}");
    }
}
