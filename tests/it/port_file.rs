//! `--port-file`, `--pid-file` and `--background` against the real sockd:
//! plants by another local user in a shared sticky directory, the paths
//! written in place (a FIFO, `/dev/stdout`), removal at exit, and the
//! detached server a script gets from `port=$(sockd --background …)`.

use crate::util::net::{connect, listener, round_trip};
use crate::util::{
    Cmd, DEADLINE, OTHER_USER, PidFd, Plant, Process, SOCKD, TempDir, fifo_drain, fifo_reader,
    mkfifo, mkfifo_of, refused_over_a_plant, skip, sockd, sticky_dir, within,
};
use rustix::process::Signal;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const NOBODY: u32 = 65534;

/// A [`sticky_dir`] owned by `uid`.
fn sticky_dir_of(uid: u32) -> TempDir {
    let dir = sticky_dir();
    let owner = (
        rustix::fs::Uid::from_raw(uid),
        rustix::fs::Gid::from_raw(uid),
    );
    rustix::fs::chown(dir.join("."), Some(owner.0), Some(owner.1))
        .unwrap_or_else(|e| panic!("chown {uid}: {e}"));
    dir
}

/// Whether the test can plant files as nobody and write as root.
#[track_caller]
fn can_plant_as_nobody() -> bool {
    skip::require_root() && skip::require_tool("setpriv")
}

#[track_caller]
fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn arg(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
}

/// `sockd -q ARGS... 127.0.0.1 0`, once it says it listens; its port.
#[track_caller]
fn start(args: &[&str]) -> (Process, u16) {
    let server = sockd()
        .arg("-q")
        .args(args)
        .args(["127.0.0.1", "0"])
        .spawn();
    server.wait_stderr("listening on");
    let stderr = server.stderr_text();
    let port = stderr
        .lines()
        .find_map(|line| line.strip_prefix("sockd: listening on 127.0.0.1:"))
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {stderr:?}"));
    (server, port)
}

/// SIGTERM, then the clean exit sockd owes it.
#[track_caller]
fn stop(server: Process) {
    server.signal(Signal::TERM);
    server.wait_exit().success();
}

#[test]
fn a_symlink_planted_by_another_user_is_replaced_never_followed() {
    if !can_plant_as_nobody() {
        return;
    }
    let private = TempDir::new();
    let victim = private.join("victim");
    std::fs::write(&victim, "root's secret\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    let shared = sticky_dir();
    let path = shared.join("echo.port");
    Cmd::new("ln")
        .args(["-s", arg(&victim), arg(&path)])
        .by_nobody()
        .run()
        .success();

    let (server, port) = start(&["--port-file", arg(&path)]);
    assert_eq!(text(&victim), "root's secret\n", "the symlink was followed");
    let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.file_type().is_file(), "{:?}", meta.file_type());
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));
    assert_eq!(text(&path), format!("{port}\n"));
    assert_eq!(round_trip(port, b"hi"), b"hi");
    stop(server);
    assert!(!path.exists(), "port file left behind");
    assert_eq!(text(&victim), "root's secret\n");
}

#[test]
fn a_file_planted_by_another_user_is_replaced_by_roots_own() {
    if !can_plant_as_nobody() {
        return;
    }
    let shared = sticky_dir();
    let path = shared.join("echo.port");
    Cmd::new("touch").arg(&path).by_nobody().run().success();
    let planted = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(planted.uid(), 65534);

    let (server, port) = start(&["--port-file", arg(&path)]);
    let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "the port file is still the planter's"
    );
    assert_ne!(meta.ino(), planted.ino(), "written into the planted file");
    assert_eq!(text(&path), format!("{port}\n"));
    stop(server);
}

/// The temporary file's creation and rename, as strace shows them: the
/// flags that keep a plant from being opened, and a name nobody can guess.
#[test]
fn the_temporary_file_is_new_unguessable_and_renamed_over_the_path() {
    if !skip::require_tool("strace") {
        return;
    }
    let mut names = Vec::new();
    for _ in 0..2 {
        let dir = TempDir::new();
        let path = dir.join("port");
        let log = dir.join("strace.log");
        let args = [
            "-f",
            "-qq",
            "-e",
            "trace=openat,rename,renameat,renameat2",
            "-o",
            arg(&log),
            SOCKD,
            "-q",
            "--exit-after",
            "1",
            "--port-file",
            arg(&path),
            "127.0.0.1",
            "0",
        ];
        let server = Cmd::new("strace").args(args).spawn();
        server.wait_stderr("listening on");
        let port = text(&path);
        drop(connect(
            port.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{port:?}: {e}")),
        ));
        server.wait_exit().success();

        let trace = text(&log);
        let created: Vec<&str> = trace
            .lines()
            .filter(|line| line.contains("openat(") && line.contains("O_CREAT"))
            .collect();
        assert_eq!(created.len(), 1, "one file created:\n{trace}");
        let line = created[0];
        for flag in [
            "O_WRONLY",
            "O_CREAT",
            "O_EXCL",
            "O_NOFOLLOW",
            "O_CLOEXEC",
            "0644",
        ] {
            assert!(line.contains(flag), "no {flag}: {line}");
        }
        let name = line
            .split('"')
            .nth(1)
            .unwrap_or_else(|| panic!("no name in {line}"));
        let hex = name
            .strip_prefix(".sockd-")
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .unwrap_or_else(|| panic!("unexpected temporary name {name}"));
        assert!(
            hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name} does not carry 64 random bits"
        );
        let renamed = trace
            .lines()
            .find(|line| line.contains("rename") && line.contains(name))
            .unwrap_or_else(|| panic!("{name} never renamed:\n{trace}"));
        assert!(renamed.contains("\"port\""), "{renamed}");
        names.push(name.to_string());
    }
    assert_ne!(names[0], names[1], "two runs, one temporary name");
}

#[test]
fn dev_stdout_is_written_in_place_and_stays_a_symlink() {
    let dev_stdout = Path::new("/dev/stdout");
    let is_link =
        || std::fs::symlink_metadata(dev_stdout).is_ok_and(|meta| meta.file_type().is_symlink());
    if !skip::require(is_link(), "/dev/stdout is not a symlink here") {
        return;
    }
    let (server, port) = start(&["--port-file", "/dev/stdout"]);
    server.wait_stdout(&format!("{port}\n"));
    stop(server);
    let still_link = is_link();
    if !still_link {
        // Put the machine's /dev/stdout back before failing.
        let _ = std::fs::remove_file(dev_stdout);
        let _ = std::os::unix::fs::symlink("/proc/self/fd/1", dev_stdout);
    }
    assert!(still_link, "sockd replaced the /dev/stdout symlink");
}

/// `sockd --port-file FIFO`: the port reaches the FIFO's reader, and the
/// FIFO stays a FIFO.
#[track_caller]
fn written_in_place(fifo: &Path) {
    let server = sockd()
        .args(["-q", "--port-file", arg(fifo), "127.0.0.1", "0"])
        .spawn();
    let (sender, read) = std::sync::mpsc::channel();
    let reader = fifo.to_path_buf();
    std::thread::spawn(move || {
        let _ = sender.send(std::fs::read_to_string(&reader));
    });
    server.wait_stderr("listening on");
    let meta = std::fs::symlink_metadata(fifo).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
    let got = read
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("reading the FIFO: {e}"))
        .unwrap_or_else(|e| panic!("read FIFO: {e}"));
    assert_eq!(
        format!("sockd: listening on 127.0.0.1:{}", got.trim()),
        server.stderr_text().trim_end(),
        "the FIFO said {got:?}"
    );
    assert!(got.ends_with('\n'), "{got:?}");
    stop(server);
    let meta = std::fs::symlink_metadata(fifo).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        meta.file_type().is_fifo(),
        "the FIFO was replaced or removed"
    );
}

#[test]
fn a_fifo_is_written_in_place_for_its_reader() {
    let dir = TempDir::new();
    let fifo = dir.join("port");
    mkfifo(&fifo);
    written_in_place(&fifo);
}

/// In a sticky directory anyone may write, a FIFO of our own uid's, or of
/// the directory owner's, cannot be another user's plant.
#[test]
fn in_a_sticky_dir_our_own_or_the_dir_owners_fifo_is_written_in_place() {
    if !skip::require_root() {
        return;
    }
    // Root's FIFO: in root's directory, and in another user's.
    for dir_owner in [0, OTHER_USER] {
        let shared = sticky_dir_of(dir_owner);
        let fifo = shared.join("port");
        mkfifo(&fifo);
        written_in_place(&fifo);
    }
    // nobody's FIFO in nobody's directory.
    let theirs = sticky_dir_of(NOBODY);
    let fifo = theirs.join("port");
    mkfifo_of(&fifo, NOBODY);
    written_in_place(&fifo);
}

/// In root's sticky directory, FIFOs nobody planted: one nobody holds open
/// to read (the port file), and one nobody reads (the pid file, which
/// sockd must not wait on). Both are replaced by root's own files, and the
/// planter's reader gets nothing.
#[test]
fn fifos_planted_by_another_user_are_replaced_read_or_not() {
    if !skip::require_root() {
        return;
    }
    let shared = sticky_dir();
    let (pid_path, port_path) = (shared.join("echo.pid"), shared.join("echo.port"));
    mkfifo_of(&pid_path, NOBODY);
    mkfifo_of(&port_path, NOBODY);
    let planter = fifo_reader(&port_path);

    let (server, port) = start(&["--pid-file", arg(&pid_path), "--port-file", arg(&port_path)]);
    assert_eq!(fifo_drain(&planter), Ok(Vec::new()), "the planter read it");
    for (path, line) in [
        (&port_path, port.to_string()),
        (&pid_path, server.pid().to_string()),
    ] {
        let meta = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            meta.file_type().is_file(),
            "{}: {:?}",
            path.display(),
            meta.file_type()
        );
        assert_eq!(
            (meta.uid(), meta.mode() & 0o777),
            (0, 0o644),
            "{}",
            path.display()
        );
        assert_eq!(text(path), format!("{line}\n"));
    }
    stop(server);
    assert!(
        !port_path.exists() && !pid_path.exists(),
        "files left behind"
    );
}

/// The rule is applied to the file opened, not only to what was looked at
/// before: root's FIFO, which sockd waits on for a reader, swapped for one
/// of nobody's with a reader, is replaced, not written.
#[test]
fn a_fifo_swapped_in_while_sockd_waits_for_a_reader_is_judged_as_opened() {
    if !skip::require_root() {
        return;
    }
    let shared = sticky_dir();
    let path = shared.join("echo.port");
    mkfifo(&path);
    let server = sockd()
        .args(["-v", "--port-file", arg(&path), "127.0.0.1", "0"])
        .spawn();
    server.wait_stderr("is a FIFO: waiting for its reader");
    let planted = shared.join("planted");
    mkfifo_of(&planted, NOBODY);
    let planter = fifo_reader(&planted);
    std::fs::rename(&planted, &path).unwrap_or_else(|e| panic!("rename: {e}"));

    server.wait_stderr("listening on");
    assert_eq!(fifo_drain(&planter), Ok(Vec::new()), "the planter read it");
    let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.file_type().is_file(), "{:?}", meta.file_type());
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));
    let port = server.listening_addr();
    assert_eq!(Some(text(&path).trim()), port.rsplit(':').next());
    stop(server);
}

/// Nobody's sockd cannot rename over another user's FIFO or file in root's
/// sticky directory (only its owner, the directory's or root may).
#[test]
fn another_users_fifo_or_file_sockd_may_not_replace_is_eperm_77_with_a_hint() {
    if !can_plant_as_nobody() {
        return;
    }
    for plant in [Plant::Fifo, Plant::File] {
        let (shared, _) = refused_over_a_plant("--port-file", "echo.port", plant);
        let names: Vec<_> = std::fs::read_dir(shared.join("."))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|entry| entry.ok().map(|entry| entry.file_name()))
            .collect();
        assert_eq!(
            names,
            ["echo.port"],
            "temporary files left beside the {plant:?}"
        );
    }
}

#[test]
fn the_port_file_is_removed_at_exit_only_while_it_is_ours() {
    let dir = TempDir::new();
    let path = dir.join("port");
    let (server, _) = start(&["--port-file", arg(&path)]);
    assert!(path.exists());
    stop(server);
    assert!(!path.exists(), "left behind after SIGTERM");

    // Replaced meanwhile by another file, even one holding the same line.
    let (server, port) = start(&["--port-file", arg(&path)]);
    let theirs = dir.join("theirs");
    std::fs::write(&theirs, format!("{port}\n")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&theirs, &path).unwrap_or_else(|e| panic!("{e}"));
    stop(server);
    assert_eq!(
        text(&path),
        format!("{port}\n"),
        "someone else's file removed"
    );

    // Our file, rewritten with another line.
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let (server, _) = start(&["--port-file", arg(&path)]);
    std::fs::write(&path, "1\n").unwrap_or_else(|e| panic!("{e}"));
    stop(server);
    assert_eq!(text(&path), "1\n", "a rewritten file removed");
}

#[test]
fn a_directory_at_the_path_is_eisdir_71() {
    let dir = TempDir::new();
    let path = dir.join("taken");
    std::fs::create_dir(&path).unwrap_or_else(|e| panic!("{e}"));
    let out = sockd()
        .args(["-q", "--port-file", arg(&path), "127.0.0.1", "0"])
        .run();
    out.fails_with(
        71,
        &format!("sockd: write {}: is a directory (EISDIR)", path.display()),
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.join("."))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|entry| entry.file_name() != path.file_name())
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// The detached server of one test, named by its pid file: killed by that
/// pid if the test fails first (declared after the directory, so it runs
/// before the directory is removed). The file is there only while the
/// server runs (it removes it as it exits), so the pid is not another
/// process's by then.
struct KillOnDrop<'a>(&'a Path);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(server) = std::fs::read_to_string(self.0)
            .ok()
            .and_then(|pid| PidFd::open(pid.trim().parse().ok()?))
        {
            server.signal(Signal::KILL);
        }
    }
}

/// A detached server, held by its pidfd from the moment its pid is known
/// (`None`: it had ended already): killed if the test fails first, and
/// never a process that got its pid after it.
struct Detached(Option<PidFd>);

impl Detached {
    fn of(pid: u32) -> Self {
        Self(PidFd::open(pid))
    }

    /// Waits for it to end.
    #[track_caller]
    fn wait_gone(&self) {
        if let Some(server) = &self.0 {
            assert!(
                server.ends_within(DEADLINE),
                "still running after {DEADLINE:?}"
            );
        }
    }

    fn signal(&self, signal: Signal) {
        if let Some(server) = &self.0 {
            server.signal(signal);
        }
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        self.signal(Signal::KILL);
    }
}

#[test]
fn background_prints_the_port_once_listening_and_detaches() {
    let dir = TempDir::new();
    let (pid_file, port_file) = (dir.join("pid"), dir.join("port"));
    let _guard = KillOnDrop(&pid_file);
    let out = sockd()
        .args(["-q", "--background", "--pid-file", arg(&pid_file)])
        .args(["--port-file", arg(&port_file), "127.0.0.1", "0"])
        .run();
    out.success().no_panic();
    let pid: u32 = text(&pid_file)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file: {e}"));
    let port = out.stdout_text();
    assert!(
        port.ends_with('\n') && port.trim().parse::<u16>().is_ok(),
        "{port:?}"
    );
    assert_eq!(text(&port_file), port, "stdout and the port file differ");
    assert!(
        out.stderr
            .contains(&format!("listening on 127.0.0.1:{}", port.trim())),
        "{}",
        out.stderr
    );
    let port_number = port
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{port:?}: {e}"));
    assert_eq!(round_trip(port_number, b"ping"), b"ping");
    // Named as it was called, not after the /proc/self/exe it was run as.
    let comm = text(Path::new(&format!("/proc/{pid}/comm")));
    assert_eq!(comm, "sockd\n");

    let rustix_pid = rustix::process::Pid::from_raw(pid as i32);
    let session = rustix::process::getsid(rustix_pid).unwrap_or_else(|e| panic!("getsid: {e}"));
    assert_eq!(
        session.as_raw_nonzero().get() as u32,
        pid,
        "not a session of its own"
    );
    for fd in 0..3 {
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .unwrap_or_else(|e| panic!("fd {fd}: {e}"));
        assert_eq!(link, Path::new("/dev/null"), "fd {fd}");
    }

    let server = Detached::of(pid);
    server.signal(Signal::TERM);
    server.wait_gone();
    assert!(!port_file.exists(), "port file left behind");
    assert!(!pid_file.exists(), "pid file left behind");
}

#[test]
fn background_over_a_unix_socket_prints_its_path() {
    let dir = TempDir::new();
    let (pid_file, socket) = (dir.join("pid"), dir.join("s.sock"));
    let _guard = KillOnDrop(&pid_file);
    let out = sockd()
        .args([
            "-q",
            "--background",
            "--pid-file",
            arg(&pid_file),
            "-U",
            arg(&socket),
        ])
        .run();
    out.success()
        .stdout_is(format!("{}\n", socket.display()).as_bytes());
    let client = crate::util::net::connect_unix(arg(&socket));
    assert_eq!(crate::util::net::exchange(&client, b"ping"), b"ping");
    let pid: u32 = text(&pid_file)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file: {e}"));
    let server = Detached::of(pid);
    server.signal(Signal::TERM);
    server.wait_gone();
    assert!(!socket.exists(), "the socket file left behind");
}

#[test]
fn background_with_the_port_in_use_fails_as_in_the_foreground_75() {
    let (_held, port) = listener();
    let port = port.to_string();
    let out = sockd()
        .args(["-q", "--background", "127.0.0.1", &port])
        .run();
    out.fails_with(
        75,
        &format!("sockd: bind 127.0.0.1:{port}: address already in use (EADDRINUSE)"),
    );
    out.stderr_has(&format!("hint: another socket holds 127.0.0.1:{port}"));
    assert!(out.stdout.is_empty(), "{}", out.stdout_text());

    let out = sockd()
        .args(["-q", "--background", "--port-file", "/nonexistent-dir/port"])
        .args(["127.0.0.1", "0"])
        .run();
    out.fails_with(
        71,
        "sockd: write /nonexistent-dir/port: no such file or directory (ENOENT)",
    );
}

/// `sockd -q FLAGS... --pid-file DIR/pid --port-file DIR/port 127.0.0.1 0`
/// with both paths FIFOs, and the pid it writes into the first: once that
/// is read, its signal handlers are installed and it waits on the second,
/// which nobody reads.
#[track_caller]
fn stuck_on_a_fifo(dir: &TempDir, flags: &[&str]) -> (Process, u32) {
    let (pid_fifo, port_fifo) = (dir.join("pid"), dir.join("port"));
    mkfifo(&pid_fifo);
    mkfifo(&port_fifo);
    let process = sockd()
        .arg("-q")
        .args(flags)
        .args(["--pid-file", arg(&pid_fifo), "--port-file", arg(&port_fifo)])
        .args(["127.0.0.1", "0"])
        .spawn();
    let text = within(DEADLINE, "reading the pid FIFO", move || {
        std::fs::read_to_string(&pid_fifo).unwrap_or_else(|e| panic!("read: {e}"))
    });
    let pid = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid FIFO said {text:?}: {e}"));
    (process, pid)
}

#[test]
fn sigterm_ends_a_wait_for_a_fifos_reader() {
    let dir = TempDir::new();
    let (server, pid) = stuck_on_a_fifo(&dir, &[]);
    assert_eq!(pid, server.pid());
    server.signal(Signal::TERM);
    let out = server.wait_exit();
    out.success();
    assert!(
        out.stderr.contains("sockd: stopped: 0 connections"),
        "{}",
        out.stderr
    );
    let port_fifo = std::fs::symlink_metadata(dir.join("port"))
        .unwrap_or_else(|e| panic!("the port FIFO is gone: {e}"));
    assert!(port_fifo.file_type().is_fifo(), "the FIFO was replaced");
}

#[test]
fn background_whose_server_dies_before_listening_says_so_71() {
    let dir = TempDir::new();
    let (launcher, server) = stuck_on_a_fifo(&dir, &["--background"]);
    assert_ne!(server, launcher.pid(), "the launcher is not the server");
    Detached::of(server).signal(Signal::KILL);
    launcher.wait_exit().fails_with(
        71,
        "sockd: start detached sockd: killed by signal 9 before it listened",
    );
}

#[test]
fn a_character_device_is_written_in_place() {
    if !skip::require_root() {
        return;
    }
    let dir = TempDir::new();
    let null = dir.join("null");
    // A private /dev/null (char 1:3): a regression replaces this one, not
    // the machine's.
    let made = rustix::fs::mknodat(
        rustix::fs::CWD,
        &null,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    );
    if !skip::require(made.is_ok(), format!("mknod: {made:?} (no CAP_MKNOD?)")) {
        return;
    }
    let (server, _) = start(&["--port-file", arg(&null)]);
    stop(server);
    let meta = std::fs::symlink_metadata(&null)
        .unwrap_or_else(|e| panic!("the device node was replaced and removed: {e}"));
    assert!(meta.file_type().is_char_device(), "{:?}", meta.file_type());
    assert_eq!(meta.rdev(), rustix::fs::makedev(1, 3));
}

#[test]
fn background_that_cannot_print_the_port_stops_the_server_71() {
    let dir = TempDir::new();
    // A FIFO: the pid is read before the server can go on, and stop.
    let pid_fifo = dir.join("pid");
    mkfifo(&pid_fifo);
    // Read-only: the launcher's write of the port fails with EBADF.
    let stdout = std::fs::File::open("/dev/null").unwrap_or_else(|e| panic!("{e}"));
    let launcher = sockd()
        .args(["-q", "--background", "--pid-file", arg(&pid_fifo)])
        .args(["127.0.0.1", "0"])
        .stdout(stdout)
        .spawn();
    let text = within(DEADLINE, "reading the pid FIFO", move || {
        std::fs::read_to_string(&pid_fifo).unwrap_or_else(|e| panic!("read: {e}"))
    });
    let pid: u32 = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid FIFO said {text:?}: {e}"));
    let server = Detached::of(pid);
    // The server's "listening on" line comes first: it was listening.
    let out = launcher.wait_exit();
    assert_eq!(out.code, Some(71), "{out}");
    out.stderr_has("sockd: write stdout: bad file descriptor (EBADF)")
        .no_panic();
    server.wait_gone();
}
