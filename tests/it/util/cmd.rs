//! A command to run: program, arguments (any bytes), stdin, env, wrappers
//! (`setpriv` as nobody, `ip netns exec`, `prlimit`) and a time limit;
//! run to completion ([`Cmd::run`]), or started in the background
//! ([`Cmd::spawn`], [`Cmd::serve`]).

use super::process::{Process, Stream};
use super::{DEADLINE, Outcome, TempDir};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the program reads.
enum Input {
    Null,
    Bytes(Vec<u8>),
    File(PathBuf),
    Given(Stdio),
}

pub struct Cmd {
    wrappers: Vec<OsString>,
    program: OsString,
    args: Vec<OsString>,
    stdin: Input,
    stdout: Stream,
    stderr: Stream,
    env: Vec<(OsString, Option<OsString>)>,
    limit: Duration,
    /// The uid the program runs as when not the test's (`by_nobody`): a
    /// server's port-file directory is made its.
    runs_as: Option<u32>,
}

impl Cmd {
    /// `program` with stdin closed, stdout and stderr captured, and
    /// `RUST_LOG` removed (a developer's logging would change stderr).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            wrappers: Vec::new(),
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            stdin: Input::Null,
            stdout: Stream::Captured,
            stderr: Stream::Captured,
            env: vec![("RUST_LOG".into(), None)],
            limit: DEADLINE,
            runs_as: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs the command under `wrapper` (`["ip", "netns", "exec", NS]`,
    /// `["prlimit", "--nofile=64:64"]`); a later wrapper goes outside.
    pub fn wrap<S: AsRef<OsStr>>(mut self, wrapper: impl IntoIterator<Item = S>) -> Self {
        let mut outer: Vec<OsString> = wrapper.into_iter().map(|a| a.as_ref().to_owned()).collect();
        outer.append(&mut self.wrappers);
        self.wrappers = outer;
        self
    }

    /// As user and group nobody (65534), no supplementary groups.
    pub fn by_nobody(mut self) -> Self {
        self.runs_as = Some(65534);
        self.wrap([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
    }

    /// stdin is `bytes`, written from a thread (the program may exit
    /// without reading them all).
    pub fn stdin_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Input::Bytes(bytes.into());
        self
    }

    pub fn stdin_file(mut self, path: impl AsRef<Path>) -> Self {
        self.stdin = Input::File(path.as_ref().to_owned());
        self
    }

    /// stdin is `stdin` as given: a pipe the test writes to
    /// ([`Stdio::piped`], then [`Process::take_stdin`]), or one end of a
    /// pipe the test made.
    pub fn stdin(mut self, stdin: impl Into<Stdio>) -> Self {
        self.stdin = Input::Given(stdin.into());
        self
    }

    /// stdout goes to `stdout` (a file, a pipe nobody reads, null) and is
    /// not captured.
    pub fn stdout(mut self, stdout: impl Into<Stdio>) -> Self {
        self.stdout = Stream::Given(stdout.into());
        self
    }

    /// stdout is a pipe the test reads itself ([`Process::take_stdout`]).
    pub fn stdout_piped(mut self) -> Self {
        self.stdout = Stream::Piped;
        self
    }

    /// stderr goes to `stderr` and is not captured.
    pub fn stderr(mut self, stderr: impl Into<Stdio>) -> Self {
        self.stderr = Stream::Given(stderr.into());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// How long [`Cmd::run`] lets the program run before killing it
    /// (default [`DEADLINE`]); a killed run's outcome says so.
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// Runs to completion (or to the limit) and returns what it did.
    pub fn run(self) -> Outcome {
        let limit = self.limit;
        self.spawn().finish(limit)
    }

    /// Starts the program in the background; killed and reaped on drop.
    #[track_caller]
    pub fn spawn(self) -> Process {
        let line = self.line();
        self.try_spawn()
            .unwrap_or_else(|e| panic!("spawn {line}: {e}"))
    }

    /// As [`Cmd::spawn`], with a failed `fork`/`exec` returned.
    pub fn try_spawn(self) -> std::io::Result<Process> {
        self.start(None)
    }

    /// Starts a server with `--port-file DIR/port` appended, and returns
    /// once it is listening: its "listening on" line is on stderr and its
    /// port is read from the file.
    #[track_caller]
    pub fn serve(self) -> Process {
        let (mut process, port_file) = self.start_serving();
        process.await_port(&port_file);
        process
    }

    /// As [`Cmd::serve`] for a unix server (`-U`): the port file holds the
    /// socket's path, which [`Process::path`] returns.
    #[track_caller]
    pub fn serve_unix(self) -> Process {
        let (mut process, port_file) = self.start_serving();
        process.await_path(&port_file);
        process
    }

    #[track_caller]
    fn start_serving(self) -> (Process, PathBuf) {
        let dir = TempDir::new();
        if let Some(uid) = self.runs_as {
            // A server running as nobody writes its port file there too.
            std::os::unix::fs::chown(dir.join(""), Some(uid), Some(uid))
                .unwrap_or_else(|e| panic!("chown the port-file directory to {uid}: {e}"));
        }
        let port_file = dir.join("port");
        let cmd = self.arg("--port-file").arg(&port_file);
        let line = cmd.line();
        let process = cmd
            .start(Some(dir))
            .unwrap_or_else(|e| panic!("spawn {line}: {e}"));
        (process, port_file)
    }

    fn line(&self) -> String {
        render(&self.wrappers, &self.program, &self.args)
    }

    fn start(self, dir: Option<TempDir>) -> std::io::Result<Process> {
        let line = self.line();
        // A socket some test left without CLOEXEC goes to this child too
        // (and to every other spawned meanwhile): it would list, hold open
        // and let `sockstat --kill` end another test's connection. The
        // test that made it is elsewhere; this names the socket.
        let leaks = super::procfs::inheritable_sockets();
        assert!(
            leaks.is_empty(),
            "{line} would inherit sockets without CLOEXEC: {leaks:?}"
        );
        let mut all = self.wrappers.clone();
        all.push(self.program.clone());
        all.extend(self.args.iter().cloned());
        let mut command = Command::new(&all[0]);
        command.args(&all[1..]);
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let mut bytes = None;
        command.stdin(match self.stdin {
            Input::Null => Stdio::null(),
            Input::Bytes(given) => {
                bytes = Some(given);
                Stdio::piped()
            }
            Input::File(path) => Stdio::from(std::fs::File::open(&path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("open {}: {e}", path.display()))
            })?),
            Input::Given(stdio) => stdio,
        });
        Process::start(command, line, bytes, self.stdout, self.stderr, dir)
    }
}

/// The command line as a reader wants it: program names without their
/// directories, arguments quoted, overlong ones cut.
fn render(wrappers: &[OsString], program: &OsStr, args: &[OsString]) -> String {
    let name = |program: &OsStr| {
        Path::new(program)
            .file_name()
            .unwrap_or(program)
            .to_string_lossy()
            .into_owned()
    };
    let quoted = |arg: &OsString| {
        let shown = format!("{arg:?}");
        if shown.len() > 80 {
            let cut = shown.floor_char_boundary(60);
            format!("{}…({} bytes)", &shown[..cut], arg.len())
        } else {
            shown
        }
    };
    let mut words: Vec<String> = Vec::new();
    if let Some((first, rest)) = wrappers.split_first() {
        words.push(name(first));
        words.extend(rest.iter().map(quoted));
    }
    words.push(name(program));
    words.extend(args.iter().map(quoted));
    words.join(" ")
}
