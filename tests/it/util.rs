//! The test fixture: run the real binaries, start servers on port 0 and wait
//! for `--port-file` without sleeping, kill and reap in `Drop`, and assertion
//! helpers that show the command, exit code, stdout and stderr on failure.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const SOCKD: &str = env!("CARGO_BIN_EXE_sockd");
pub const SOCKC: &str = env!("CARGO_BIN_EXE_sockc");

/// How long any single step may take before the test fails instead of hanging.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "sockkit-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a finished command did.
pub struct Outcome {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Outcome {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn describe(&self) -> String {
        let stdout =
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(4096)]).into_owned();
        format!(
            "command: {}\nexit code: {:?}\nstdout ({} bytes): {stdout}\nstderr: {}",
            self.command,
            self.code,
            self.stdout.len(),
            self.stderr
        )
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success\n{}", self.describe());
        self
    }

    /// Asserts the exit code and that stderr has exactly one line naming
    /// `needle` (plus a `hint:` line when the error has one), no panic.
    #[track_caller]
    pub fn fails_with(&self, code: i32, needle: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "wrong exit code\n{}",
            self.describe()
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.describe()
        );
        self.no_panic();
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("hint: "))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one error line\n{}",
            self.describe()
        );
        self
    }

    #[track_caller]
    pub fn no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked"),
            "panic\n{}",
            self.describe()
        );
        assert_ne!(self.code, Some(101), "panic exit\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stdout_is(&self, expected: &[u8]) -> &Self {
        assert!(
            self.stdout == expected,
            "stdout differs: expected {:?}\n{}",
            String::from_utf8_lossy(expected),
            self.describe()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.describe()
        );
        self
    }
}

fn render(program: &str, args: &[&str]) -> String {
    let name = Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy().into_owned());
    std::iter::once(name)
        .chain(args.iter().map(|a| format!("{a:?}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command to completion with `stdin` as its input, killed after `limit`.
pub fn run_with(program: &str, args: &[&str], stdin: Stdin, limit: Duration) -> Outcome {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(match &stdin {
        Stdin::Null => Stdio::null(),
        Stdin::Bytes(_) => Stdio::piped(),
        Stdin::File(path) => Stdio::from(
            std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())),
        ),
    });
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    if let (Stdin::Bytes(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(limit) {
        Ok(output) => output.unwrap_or_else(|e| panic!("wait {program}: {e}")),
        Err(_) => {
            kill(pid, rustix::process::Signal::KILL);
            panic!("{} did not finish within {limit:?}", render(program, args));
        }
    };
    Outcome {
        command: render(program, args),
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a command with no stdin.
pub fn run(program: &str, args: &[&str]) -> Outcome {
    run_with(program, args, Stdin::Null, DEADLINE)
}

pub enum Stdin {
    Null,
    Bytes(Vec<u8>),
    File(PathBuf),
}

pub fn kill(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Text a background process wrote, shared with the thread that reads it.
#[derive(Default)]
pub struct Captured {
    text: Mutex<(Vec<u8>, bool)>,
    changed: Condvar,
}

impl Captured {
    pub fn spawn_reader(self: &Arc<Self>, mut source: impl Read + Send + 'static) {
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
    pub fn wait_for(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut guard = self.text.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if String::from_utf8_lossy(&guard.0).contains(needle) {
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

    /// Blocks until the stream ends (the process closed it).
    pub fn wait_closed(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut guard = self.text.lock().unwrap_or_else(|p| p.into_inner());
        while !guard.1 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self
                .changed
                .wait_timeout(guard, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// A stream nothing will be read from counts as closed.
    pub fn mark_closed(&self) {
        self.text.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }
}

/// A server started on port 0, its port read from `--port-file` once its
/// "listening on" line appears; killed and reaped on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
    command: String,
    _dir: TempDir,
}

impl Server {
    /// `sockd ARGS... --port-file DIR/port`, stdin closed.
    pub fn sockd(args: &[&str]) -> Self {
        Self::start(SOCKD, args, Stdin::Null)
    }

    pub fn start(program: &str, args: &[&str], stdin: Stdin) -> Self {
        Self::start_in(program, args, stdin, |_| {})
    }

    /// As [`start`], with a chance to adjust the command (pre_exec-free
    /// things only: env, limits via a wrapper, …).
    pub fn start_in(
        program: &str,
        args: &[&str],
        stdin: Stdin,
        adjust: impl FnOnce(&mut Command),
    ) -> Self {
        let dir = TempDir::new();
        let port_file = dir.join("port");
        let port_arg = port_file.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--port-file", &port_arg]);
        let mut command = Command::new(program);
        command
            .args(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.stdin(match &stdin {
            Stdin::Null => Stdio::null(),
            Stdin::Bytes(_) => Stdio::piped(),
            Stdin::File(path) => {
                Stdio::from(std::fs::File::open(path).unwrap_or_else(|e| panic!("{e}")))
            }
        });
        adjust(&mut command);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        if let (Stdin::Bytes(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let stdout = Arc::new(Captured::default());
        let stderr = Arc::new(Captured::default());
        if let Some(out) = child.stdout.take() {
            stdout.spawn_reader(out);
        }
        if let Some(err) = child.stderr.take() {
            stderr.spawn_reader(err);
        }
        let command = render(program, &all);
        let mut server = Self {
            child,
            port: 0,
            stdout,
            stderr,
            command,
            _dir: dir,
        };
        if !server.stderr.wait_for("listening on", DEADLINE) {
            panic!(
                "{} never said it was listening; stderr: {}",
                server.command,
                server.stderr_text()
            );
        }
        let text = std::fs::read_to_string(&port_file)
            .unwrap_or_else(|e| panic!("read port file: {e}; stderr: {}", server.stderr_text()));
        server.port = text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("port file {text:?}: {e}"));
        assert_ne!(server.port, 0, "port file says 0");
        server
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.stdout.bytes()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.bytes()).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.bytes()).into_owned()
    }

    /// Blocks until stdout contains `needle` (or fails the test).
    #[track_caller]
    pub fn wait_stdout(&self, needle: &str) {
        assert!(
            self.stdout.wait_for(needle, DEADLINE),
            "{} stdout never showed {needle:?}: {}",
            self.command,
            self.stdout_text()
        );
    }

    /// Blocks until stderr contains `needle` (or fails the test).
    #[track_caller]
    pub fn wait_stderr(&self, needle: &str) {
        assert!(
            self.stderr.wait_for(needle, DEADLINE),
            "{} stderr never showed {needle:?}: {}",
            self.command,
            self.stderr_text()
        );
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        kill(self.child.id(), signal);
    }

    /// Waits for the process to exit on its own; its exit code and output.
    #[track_caller]
    pub fn wait_exit(mut self) -> Outcome {
        let status = wait_child(&mut self.child, DEADLINE).unwrap_or_else(|| {
            panic!(
                "{} did not exit; stderr: {}",
                self.command,
                self.stderr_text()
            )
        });
        self.stdout.wait_closed(DEADLINE);
        self.stderr.wait_closed(DEADLINE);
        Outcome {
            command: self.command.clone(),
            code: status.code(),
            stdout: self.stdout.bytes(),
            stderr: self.stderr_text(),
        }
    }
}

/// `waitpid` with a deadline and no sleeping: the child's pidfd becomes
/// readable when it exits.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    use rustix::event::{PollFd, PollFlags, poll};
    let deadline = Instant::now() + limit;
    let pid = rustix::process::Pid::from_raw(child.id() as i32)?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let Some(pidfd) = &pidfd else { return None };
        let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
        let _ = poll(&mut fds, Some(&sockkit::socket::timespec(left)));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deterministic pseudo-random bytes (xorshift), NULs included.
pub fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    seed |= 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Whether a program is on PATH; tests that need it print why they skip.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A port with nothing listening: a socket kept bound (not listening) on
/// port 0, so nothing else can take the port while the test uses it.
pub fn refused_port() -> (rustix::fd::OwnedFd, u16) {
    let (fd, addr) = sockkit::bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
    (fd, addr.port())
}

#[macro_export]
macro_rules! skip_unless {
    ($cond:expr, $why:expr) => {
        if !$cond {
            eprintln!("SKIPPED {}: {}", module_path!(), $why);
            return;
        }
    };
}
