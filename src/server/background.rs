//! `--background`: the command returns once the server listens, having
//! printed its port, and the server goes on detached.
//!
//! There is no safe `fork` (and a forked multi-threaded process may not do
//! much), so the launcher runs this same executable again with a hidden
//! `--detached` flag, its stdout a pipe. The detached server binds and
//! announces itself as usual, writes the port line into the pipe, starts a
//! session of its own and puts /dev/null on stdin, stdout and stderr; the
//! launcher copies the line to its stdout and exits 0. A server that fails
//! before that prints its error on the stderr it shares with the launcher
//! and exits; the pipe ends empty and the launcher exits with its code, so
//! a failure reads exactly as without `--background`.
//!
//! stderr goes to /dev/null too once the server is ready: a detached server
//! holding the caller's stderr would keep `out=$(sockd --background … 2>&1)`
//! or a CI log pipe open for as long as it runs, and would write into a
//! terminal it no longer belongs to.

use crate::error::{Error, Result, Target};
use crate::exit::Exit;
use crate::io;
use rustix::fs::{CWD, OFlags};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

/// The hidden flag that tells the re-run executable it is the server.
pub const DETACHED_FLAG: &str = "--detached";

/// The most the launcher reads from the server: its port line (or, with
/// `--port-file /dev/stdout`, that too), never a transcript.
const READY_LIMIT: usize = 4096;

/// Runs this program again as the detached server (same arguments, plus
/// [`DETACHED_FLAG`]), and relays what it writes on stdout until it
/// detaches.
///
/// # Errors
/// [`Error::Reported`] with the server's exit code when it failed before it
/// was ready (it printed why); [`Error::Io`] when it died without saying
/// (a signal, a panic); failures to spawn (`EAGAIN`, `ENOMEM`) or wait; a
/// stdout the port cannot be written to (`EBADF`; the server is then sent
/// SIGTERM). A reader that closed stdout early is no failure.
pub fn launch() -> Result<()> {
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "sockd".into());
    let mut server = Command::new("/proc/self/exe")
        .arg0(arg0)
        .arg(DETACHED_FLAG)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| Error::from_io("spawn", "/proc/self/exe", &err))?;
    let mut ready = Vec::new();
    if let Some(pipe) = server.stdout.take() {
        let mut buf = [0u8; 512];
        while ready.len() < READY_LIMIT {
            match io::read_some(&pipe, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => ready.extend_from_slice(&buf[..n]),
            }
        }
    }
    if ready.ends_with(b"\n") {
        let printed = io::write_stdout(&ready);
        if let Err(Error::Os { .. }) = printed {
            // Nobody learns the port from us: a server nobody knows of
            // would only hold the port and run on.
            let pid = rustix::process::Pid::from_child(&server);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        return printed;
    }
    let status = server
        .wait()
        .map_err(|err| Error::from_io("wait", "detached sockd", &err))?;
    let failed = |message: String| Error::Io {
        op: "start",
        target: Target::Other("detached sockd".to_string()),
        message,
    };
    match (status.code(), status.signal()) {
        (Some(code), _) => match Exit::from_code(code) {
            Some(exit) => Err(Error::Reported(exit)),
            None => Err(failed(format!("exited with {code} before it listened"))),
        },
        (None, Some(signal)) => Err(failed(format!(
            "killed by signal {signal} before it listened"
        ))),
        (None, None) => Err(failed(format!("ended ({status}) before it listened"))),
    }
}

/// The server's side, once it listens and has announced itself: a session
/// of its own, `ready` (the port line) to the launcher, then /dev/null on
/// stdin, stdout and stderr.
///
/// # Errors
/// `open` of /dev/null, `setsid` (`EPERM`), the write to a launcher that
/// went away (`EPIPE`), `dup2`.
pub fn detach(ready: &str) -> Result<()> {
    name_after_argv0();
    let null = io::open_at(CWD, c"/dev/null", OFlags::RDWR)
        .map_err(|errno| Error::on("open", "/dev/null", errno))?;
    rustix::process::setsid().map_err(|errno| Error::on("setsid", "sockd", errno))?;
    io::write_all(io::stdout(), ready.as_bytes())
        .map_err(|errno| Error::on("write", "the launching sockd", errno))?;
    rustix::stdio::dup2_stdin(&null)
        .and_then(|()| rustix::stdio::dup2_stdout(&null))
        .and_then(|()| rustix::stdio::dup2_stderr(&null))
        .map_err(|errno| Error::on("dup2", "/dev/null", errno))
}

/// `prctl(PR_SET_NAME)`: the comm `sockstat`, `ps` and `pkill` show. The
/// launcher execs `/proc/self/exe` (it works even when the binary was
/// replaced since), which would make every detached server an `exe`;
/// this names it after `argv[0]` again. Worker threads, made after, inherit
/// it. A failure only leaves the name as it was.
fn name_after_argv0() {
    let arg0 = std::env::args_os().next().unwrap_or_default();
    let path = std::path::Path::new(&arg0);
    let base = path
        .file_name()
        .map_or(b"sockd".as_slice(), std::os::unix::ffi::OsStrExt::as_bytes);
    // The kernel keeps 15 bytes and a NUL; a NUL inside would cut it anyway.
    let kept: Vec<u8> = base
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .take(15)
        .collect();
    if let Ok(name) = std::ffi::CString::new(kept)
        && let Err(errno) = rustix::thread::set_name(&name)
    {
        log::debug!("prctl(PR_SET_NAME): {errno}");
    }
}
