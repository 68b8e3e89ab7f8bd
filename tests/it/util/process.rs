//! A process running beside the test (a server, a client under `--wait`,
//! socat): its output captured as it comes, waited on with deadlines (a
//! line on stderr, its port file, its exit through a pidfd), never with a
//! sleep; killed and reaped on drop.

use super::{DEADLINE, Outcome, PidFd, TempDir};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Where a stdout or stderr goes.
pub enum Stream {
    /// Read into memory by a thread, for waits and the outcome.
    Captured,
    /// A pipe the test reads itself.
    Piped,
    /// Elsewhere (a file, null, a pipe nobody reads).
    Given(Stdio),
}

impl Stream {
    fn stdio(self) -> Stdio {
        match self {
            Stream::Captured | Stream::Piped => Stdio::piped(),
            Stream::Given(stdio) => stdio,
        }
    }
}

pub struct Process {
    child: Child,
    /// Opened at the spawn, while the child is ours to reap: its signals
    /// and waits can never reach a process that got the pid later.
    pidfd: Option<PidFd>,
    command: String,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
    port: Option<u16>,
    path: Option<String>,
    /// stderr goes elsewhere: it cannot say when the server listens.
    stderr_given: bool,
    _dir: Option<TempDir>,
}

impl Process {
    pub(super) fn start(
        mut command: Command,
        line: String,
        stdin_bytes: Option<Vec<u8>>,
        stdout: Stream,
        stderr: Stream,
        dir: Option<TempDir>,
    ) -> std::io::Result<Self> {
        let stderr_given = matches!(stderr, Stream::Given(_));
        let (capture_out, capture_err) = (
            matches!(stdout, Stream::Captured),
            matches!(stderr, Stream::Captured),
        );
        command.stdout(stdout.stdio()).stderr(stderr.stdio());
        let mut child = command.spawn()?;
        let pidfd = PidFd::open(child.id());
        if let Some(bytes) = stdin_bytes
            && let Some(mut pipe) = child.stdin.take()
        {
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let stdout = Arc::new(Captured::default());
        let stderr = Arc::new(Captured::default());
        match child.stdout.take() {
            Some(out) if capture_out => stdout.spawn_reader(out),
            taken => {
                // Nothing will be read into it: it counts as closed.
                stdout.mark_closed();
                child.stdout = taken;
            }
        }
        match child.stderr.take() {
            Some(err) if capture_err => stderr.spawn_reader(err),
            _ => stderr.mark_closed(),
        }
        Ok(Self {
            child,
            pidfd,
            command: line,
            stdout,
            stderr,
            port: None,
            path: None,
            stderr_given,
            _dir: dir,
        })
    }

    /// Waits for the "listening on" line (or, when stderr goes elsewhere,
    /// for the port file, which appears whole by a rename), then reads the
    /// port file's line.
    #[track_caller]
    fn await_announcement(&mut self, port_file: &Path) -> String {
        let ready = match self.stderr_given {
            true => super::eventually(DEADLINE, || port_file.exists()),
            false => self.stderr.wait_for("listening on", DEADLINE),
        };
        if !ready {
            panic!(
                "{} never said it was listening; stderr: {}",
                self.command,
                self.stderr_text()
            );
        }
        std::fs::read_to_string(port_file)
            .unwrap_or_else(|e| panic!("read port file: {e}; stderr: {}", self.stderr_text()))
    }

    /// Waits for a unix server: its port file holds the socket's path.
    #[track_caller]
    pub(super) fn await_path(&mut self, port_file: &Path) {
        let text = self.await_announcement(port_file);
        let path = text
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("port file {text:?} is not one line"));
        self.path = Some(path.to_string());
    }

    /// Waits for the "listening on" line, then reads the port file.
    #[track_caller]
    pub(super) fn await_port(&mut self, port_file: &Path) {
        let text = self.await_announcement(port_file);
        let port: u16 = text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("port file {text:?}: {e}"));
        assert_ne!(port, 0, "port file says 0");
        self.port = Some(port);
    }

    /// The port a server started with [`super::Cmd::serve`] listens on.
    #[track_caller]
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or_else(|| panic!("{} was spawned, not served: no port", self.command))
    }

    #[track_caller]
    pub fn port_arg(&self) -> String {
        self.port().to_string()
    }

    /// The socket path (or `@name`) a server started with
    /// [`super::Cmd::serve_unix`] announced in its port file.
    #[track_caller]
    pub fn path(&self) -> &str {
        self.path
            .as_deref()
            .unwrap_or_else(|| panic!("{} was not served as a unix server", self.command))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.bytes()).into_owned()
    }

    /// What a captured stdout has said so far.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.bytes()).into_owned()
    }

    /// Blocks until stdout contains `needle` (or fails the test).
    #[track_caller]
    pub fn wait_stdout(&self, needle: &str) {
        self.wait_on(&self.stdout, "stdout", needle);
    }

    /// The address a server spawned without a port file says it listens on
    /// (`sockd: listening on 127.0.0.1:41049`), once it says it.
    #[track_caller]
    pub fn listening_addr(&self) -> String {
        self.wait_stderr("listening on ");
        let said = self.stderr_text();
        said.lines()
            .find_map(|line| Some(line.split_once("listening on ")?.1.trim().to_string()))
            .unwrap_or_else(|| panic!("{}: no address in {said:?}", self.command))
    }

    /// Blocks until stderr contains `needle` (or fails the test).
    #[track_caller]
    pub fn wait_stderr(&self, needle: &str) {
        self.wait_on(&self.stderr, "stderr", needle);
    }

    #[track_caller]
    fn wait_on(&self, stream: &Captured, name: &str, needle: &str) {
        assert!(
            stream.wait_for(needle, DEADLINE),
            "{} {name} never showed {needle:?}: {}",
            self.command,
            String::from_utf8_lossy(&stream.bytes())
        );
    }

    /// The pipe of a command given `stdin(Stdio::piped())`.
    #[track_caller]
    pub fn take_stdin(&mut self) -> ChildStdin {
        let command = &self.command;
        self.child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("{command}: stdin is not a pipe, or already taken"))
    }

    /// The pipe of a command given `stdout_piped()`.
    #[track_caller]
    pub fn take_stdout(&mut self) -> ChildStdout {
        let command = &self.command;
        self.child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("{command}: stdout is not piped, or already taken"))
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        if let Some(pidfd) = &self.pidfd {
            pidfd.signal(signal);
        }
    }

    /// Whether the process exits within `limit`; it stays reapable by
    /// [`Process::wait_exit`].
    pub fn exits_within(&mut self, limit: Duration) -> bool {
        wait_child(&mut self.child, self.pidfd.as_ref(), limit).is_some()
    }

    /// Waits for the process to exit on its own (within [`DEADLINE`]); its
    /// exit code and output.
    #[track_caller]
    pub fn wait_exit(self) -> Outcome {
        self.wait_exit_within(DEADLINE)
    }

    #[track_caller]
    pub fn wait_exit_within(mut self, limit: Duration) -> Outcome {
        let Some(status) = wait_child(&mut self.child, self.pidfd.as_ref(), limit) else {
            panic!(
                "{} did not exit within {limit:?}; it waited in:\n{}stderr: {}",
                self.command,
                super::procfs::waits(self.child.id()),
                self.stderr_text()
            );
        };
        self.outcome(status, None, String::new())
    }

    /// [`Cmd::run`](super::Cmd::run)'s end: the outcome after exit, or
    /// after `limit` and a SIGKILL.
    pub(super) fn finish(mut self, limit: Duration) -> Outcome {
        match wait_child(&mut self.child, self.pidfd.as_ref(), limit) {
            Some(status) => self.outcome(status, None, String::new()),
            None => {
                let waiting = super::procfs::waits(self.child.id());
                let _ = self.child.kill();
                let status = self
                    .child
                    .wait()
                    .unwrap_or_else(|e| panic!("wait {}: {e}", self.command));
                self.outcome(status, Some(limit), waiting)
            }
        }
    }

    fn outcome(
        &self,
        status: ExitStatus,
        killed_after: Option<Duration>,
        waiting: String,
    ) -> Outcome {
        self.stdout.wait_closed(DEADLINE);
        self.stderr.wait_closed(DEADLINE);
        Outcome::new(
            self.command.clone(),
            status,
            killed_after,
            waiting,
            self.stdout.bytes(),
            self.stderr_text(),
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `waitpid` with a deadline and no sleeping: the child's pidfd becomes
/// readable when it exits.
fn wait_child(child: &mut Child, pidfd: Option<&PidFd>, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        pidfd?.ends_within(left);
    }
}

/// Text a process wrote, shared with the thread that reads it.
#[derive(Default)]
struct Captured {
    text: Mutex<(Vec<u8>, bool)>,
    changed: Condvar,
}

impl Captured {
    fn spawn_reader(self: &Arc<Self>, mut source: impl Read + Send + 'static) {
        let captured = Arc::clone(self);
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = source.read(&mut buf).unwrap_or(0);
                let mut guard = captured.text.lock().unwrap_or_else(|p| p.into_inner());
                if n == 0 {
                    guard.1 = true;
                } else {
                    guard.0.extend_from_slice(&buf[..n]);
                }
                captured.changed.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
    }

    /// Blocks until `needle` appears, the stream ends, or `limit` passes.
    fn wait_for(&self, needle: &str, limit: Duration) -> bool {
        self.wait_until(limit, |text, _| {
            String::from_utf8_lossy(text).contains(needle)
        })
    }

    /// Blocks until the stream ends (the process closed it).
    fn wait_closed(&self, limit: Duration) -> bool {
        self.wait_until(limit, |_, closed| closed)
    }

    fn wait_until(&self, limit: Duration, done: impl Fn(&[u8], bool) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut guard = self.text.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if done(&guard.0, guard.1) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if guard.1 || left.is_zero() {
                return false;
            }
            guard = self
                .changed
                .wait_timeout(guard, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn mark_closed(&self) {
        self.text.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
    }

    fn bytes(&self) -> Vec<u8> {
        self.text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }
}
