//! Pseudo-terminals: a command given the slave end as stdin under `setsid
//! -c` has it as its controlling terminal, with job control as a shell's
//! jobs have it; the test types on the master end.

use super::DEADLINE;
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

/// A new pty, (master, slave): CLOEXEC, and not the test's controlling
/// terminal.
pub fn open() -> (OwnedFd, OwnedFd) {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = openpt(flags).unwrap_or_else(|e| panic!("openpt: {e}"));
    grantpt(&master).unwrap_or_else(|e| panic!("grantpt: {e}"));
    unlockpt(&master).unwrap_or_else(|e| panic!("unlockpt: {e}"));
    let name = ptsname(&master, Vec::new()).unwrap_or_else(|e| panic!("ptsname: {e}"));
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open {name:?}: {e}"));
    (master, slave)
}

/// Types `line` and a newline on `master`, and returns once the terminal
/// has echoed it: the line discipline holds the line then, and a reader
/// of the slave end sees it readable.
pub fn type_line(master: &OwnedFd, line: &str) {
    sockkit::io::write_all(master, format!("{line}\n").as_bytes())
        .unwrap_or_else(|e| panic!("write to the pty: {e}"));
    let mut echoed = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&echoed).contains(line) {
        let readable = sockkit::io::poll_readable(master, Some(DEADLINE))
            .unwrap_or_else(|e| panic!("poll the pty: {e}"));
        assert!(readable, "no echo of {line:?} in {DEADLINE:?}: {echoed:?}");
        let n = sockkit::io::read_some(master, &mut buf)
            .unwrap_or_else(|e| panic!("read the pty: {e}"));
        assert!(n > 0, "the pty's slave end is closed");
        echoed.extend_from_slice(&buf[..n]);
    }
}
