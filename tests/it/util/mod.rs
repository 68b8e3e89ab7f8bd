//! The one test fixture: commands built and run (`cmd`), processes in the
//! background waited on with deadlines and never a sleep (`process`), the
//! assertions that show what a command did when they fail (`outcome`),
//! test-side sockets (`net`), what `/proc` says about a process (`procfs`),
//! pseudo-terminals (`pty`),
//! sockstat's table read back (`listing`), a resolver of the test's making
//! (`resolver`) and visible skips (`skip`).
//!
//! ```text
//! let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
//! sockc().args(["127.0.0.1", &server.port_arg(), "hi"]).run().success().stdout_is(b"hi");
//! sockc().args(["127.0.0.1", &refused, "hi"]).run().fails_with(69, "(ECONNREFUSED)");
//! ```

mod cmd;
pub mod listing;
pub mod net;
pub mod netns;
mod outcome;
mod process;
pub mod procfs;
pub mod pty;
pub mod resolver;
pub mod skip;

pub use cmd::Cmd;
pub use outcome::{Outcome, stop_line_in};
pub use process::Process;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub const SOCKD: &str = env!("CARGO_BIN_EXE_sockd");
pub const SOCKC: &str = env!("CARGO_BIN_EXE_sockc");
pub const SOCKSTAT: &str = env!("CARGO_BIN_EXE_sockstat");
pub const SOCKBENCH: &str = env!("CARGO_BIN_EXE_sockbench");

/// How long any single step may take before the test fails instead of hanging.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn sockd() -> Cmd {
    Cmd::new(SOCKD)
}

pub fn sockc() -> Cmd {
    Cmd::new(SOCKC)
}

pub fn sockstat() -> Cmd {
    Cmd::new(SOCKSTAT)
}

pub fn sockbench() -> Cmd {
    Cmd::new(SOCKBENCH)
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Short, under /tmp: unix socket paths end at 107 bytes.
        let name = format!(
            "sockkit-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Self(path)
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

/// Asserts two byte strings are equal, showing lengths and the first
/// differing offset rather than megabytes of bytes.
#[track_caller]
pub fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    if got == expected {
        return;
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let around = |bytes: &[u8]| {
        let end = bytes.len().min(first + 16);
        format!("{:02x?}", &bytes[first.min(end)..end])
    };
    panic!(
        "{what}: got {} bytes, expected {}; first difference at offset {first}: \
         got {} expected {}",
        got.len(),
        expected.len(),
        around(got),
        around(expected)
    );
}

/// Runs `work` on a thread and fails the test if it takes longer than
/// `limit`: a hang check, not a timing assertion.
#[track_caller]
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(work());
    });
    match finished.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: not done within {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Asserts that what began at `started` took at least `min` and less than
/// `max`: a bound on both sides with a monotonic clock, generous above
/// (what it guards against is a hang or a wait forgotten, not speed).
#[track_caller]
pub fn took_between(started: Instant, min: Duration, max: Duration) {
    let took = started.elapsed();
    assert!(
        took >= min && took < max,
        "took {took:?}, not within {min:?}..{max:?}"
    );
}

/// Checks `check` every 10 ms until it holds or `limit` passes; whether it
/// held. Only for state nothing can be waited on for (a process's fd
/// count, a sender that stopped moving); readiness has its own waits.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// A FIFO at `path`, mode 0600.
#[track_caller]
pub fn mkfifo(path: &std::path::Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}

/// A FIFO at `path`, mode 0600, owned by `uid` (and group `uid`): one
/// another user planted, as they would with their own mkfifo (needs root).
#[track_caller]
pub fn mkfifo_of(path: &std::path::Path, uid: u32) {
    mkfifo(path);
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(uid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap_or_else(|e| panic!("chown {uid} {}: {e}", path.display()));
}

/// A user neither root nor nobody, who need not exist to own a file.
pub const OTHER_USER: u32 = 4242;

/// A directory anyone may create files in, as /tmp is (mode 1777).
pub fn sticky_dir() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let path = dir.join(".");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1777))
        .unwrap_or_else(|e| panic!("chmod 1777 {}: {e}", path.display()));
    dir
}

/// What another user plants for [`refused_over_a_plant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    Fifo,
    /// A regular file holding `planted\n`.
    File,
}

/// `sockd -q FLAG PATH` run as nobody, PATH a FIFO or file [`OTHER_USER`]
/// planted in root's [`sticky_dir`]: sockd does not write into it, and the
/// sticky bit refuses it the rename over it (exit 77, `EPERM`, a hint
/// naming the plant's owner); the plant stays as it was. Returns the
/// directory and PATH, for more checks. Needs root and setpriv.
#[track_caller]
pub fn refused_over_a_plant(flag: &str, name: &str, plant: Plant) -> (TempDir, PathBuf) {
    use std::os::unix::fs::MetadataExt;
    let shared = sticky_dir();
    let path = shared.join(name);
    let kind = match plant {
        Plant::Fifo => {
            mkfifo_of(&path, OTHER_USER);
            "FIFO"
        }
        Plant::File => {
            std::fs::write(&path, "planted\n").unwrap_or_else(|e| panic!("{e}"));
            std::os::unix::fs::lchown(&path, Some(OTHER_USER), Some(OTHER_USER))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
            "file"
        }
    };
    let shown = path.to_string_lossy().into_owned();
    let out = sockd()
        .args(["-q", flag, &shown, "127.0.0.1", "0"])
        .by_nobody()
        .run();
    out.fails_with(
        77,
        &format!("sockd: write {shown}: operation not permitted (EPERM)"),
    );
    out.stderr_has(&format!(
        "hint: another user (uid {OTHER_USER}) owns the {kind} at {shown}"
    ));
    let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.uid(), OTHER_USER);
    match plant {
        Plant::Fifo => assert!(
            std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()),
            "{:?}",
            meta.file_type()
        ),
        Plant::File => assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")),
            "planted\n"
        ),
    }
    (shared, path)
}

/// A reader of the FIFO at `path`, opened non-blocking: opening it and
/// reading it never wait for a writer.
#[track_caller]
pub fn fifo_reader(path: &std::path::Path) -> rustix::fd::OwnedFd {
    use rustix::fs::OFlags;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, rustix::fs::Mode::empty())
        .unwrap_or_else(|e| panic!("open {} to read: {e}", path.display()))
}

/// Everything a non-blocking FIFO reader has to read, up to the end of
/// file (no writer has it open); `EAGAIN` if a writer still does.
pub fn fifo_drain(reader: &rustix::fd::OwnedFd) -> Result<Vec<u8>, rustix::io::Errno> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sockkit::io::read_some(reader, &mut buf)? {
            0 => return Ok(got),
            n => got.extend_from_slice(&buf[..n]),
        }
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A process held by its pidfd, opened while it is known to run: signals
/// and waits reach that process and never a later one given its pid once
/// it is gone and reaped (pids are the host's: another test's process, or
/// another run's, can be the next to get it).
pub struct PidFd(rustix::fd::OwnedFd);

impl PidFd {
    /// `pidfd_open(pid)`; `None` when no such process exists.
    pub fn open(pid: u32) -> Option<Self> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .ok()
            .map(Self)
    }

    /// `pidfd_send_signal`; a process already gone is no error.
    pub fn signal(&self, signal: rustix::process::Signal) {
        let _ = rustix::process::pidfd_send_signal(&self.0, signal);
    }

    /// Whether the process ends within `limit` (its pidfd turns readable).
    pub fn ends_within(&self, limit: Duration) -> bool {
        sockkit::io::poll_readable(&self.0, Some(limit)).unwrap_or(false)
    }
}
