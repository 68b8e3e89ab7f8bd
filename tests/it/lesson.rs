//! The lesson's two-terminal session, reproduced line for line.

use crate::util::net::{accept, connect, listener, recv_to_eof, send_all};
use crate::util::{
    DEADLINE, PidFd, TempDir, eventually, procfs, pty, skip, sockc, sockd, stop_line_in,
};
use std::process::Stdio;

const SERVER_TRANSCRIPT: &str = "\
127.0.0.1 say: hi
you say: hi, i got you
127.0.0.1 say: bye
you say: byebye
";

const CLIENT_TRANSCRIPT: &str = "\
you say: hi
127.0.0.1 say: hi, i got you
you say: bye
127.0.0.1 say: byebye
you say: q
";

/// The lesson's client session (`hi`, `bye`, `q`) against `port`, and its
/// transcript.
#[track_caller]
fn the_lessons_client(port: u16) {
    sockc()
        .args(["127.0.0.1", &port.to_string()])
        .stdin_bytes(b"hi\nbye\nq\n")
        .run()
        .success()
        .stdout_is(CLIENT_TRANSCRIPT.as_bytes());
}

#[test]
fn chat_server_and_client_print_the_lessons_transcripts() {
    let server = sockd()
        .args(["--chat", "127.0.0.1", "0", "--exit-after", "2"])
        .stdin_bytes(b"hi, i got you\nbyebye\n")
        .serve();
    the_lessons_client(server.port());
    let server = server.wait_exit();
    server.success().stdout_is(SERVER_TRANSCRIPT.as_bytes());
}

#[test]
fn chat_server_answers_the_lessons_nul_padded_client() {
    // The C client writes its 1024-byte buffer whole: "hi" and 1022 NULs.
    let server = sockd()
        .args(["--chat", "127.0.0.1", "0", "--exit-after", "1"])
        .stdin_bytes(b"hello\n")
        .serve();
    let mut padded = b"hi".to_vec();
    padded.resize(1024, 0);
    let sock = connect(server.port());
    send_all(&sock, &padded);
    assert_eq!(recv_to_eof(&sock), b"hello");
    let server = server.wait_exit();
    server
        .success()
        .stdout_is(b"127.0.0.1 say: hi\nyou say: hello\n");
}

#[test]
fn chat_server_exits_zero_on_stdin_eof_at_the_prompt() {
    let mut server = sockd()
        .args(["--chat", "127.0.0.1", "0"])
        .stdin(Stdio::piped())
        .serve();
    let operator = server.take_stdin();
    let client = sockc()
        .args(["127.0.0.1", &server.port_arg(), "hi"])
        .spawn();
    server.wait_stdout("127.0.0.1 say: hi\nyou say: ");
    drop(operator);
    client.wait_exit().success().stdout_is(b"");
    server
        .wait_exit()
        .success()
        .stdout_is(b"127.0.0.1 say: hi\nyou say: \n");
}

/// The end of stdin is seen while sockd waits for its next client, not at
/// that client's prompt: the script's `wait` returns after the last reply.
#[test]
fn chat_server_exits_zero_once_stdin_has_ended_and_its_last_line_is_sent() {
    let server = sockd()
        .args(["--chat", "127.0.0.1", "0"])
        .stdin_bytes(b"one\ntwo")
        .serve();
    let port = server.port_arg();
    for (said, reply) in [("a", "one"), ("b", "two")] {
        sockc()
            .args(["127.0.0.1", &port, said])
            .run()
            .success()
            .stdout_is(reply.as_bytes());
    }
    server
        .wait_exit()
        .success()
        .stdout_is(b"127.0.0.1 say: a\nyou say: one\n127.0.0.1 say: b\nyou say: two\n");
}

/// `sockd --chat … </dev/null` (a script's `&` job gets that stdin): no
/// reply could ever be sent, so no client is kept waiting for one.
#[test]
fn chat_server_whose_stdin_has_already_ended_exits_zero_before_any_client() {
    let dir = TempDir::new();
    let port_file = dir.join("port");
    let out = sockd()
        .args(["--chat", "127.0.0.1", "0", "--port-file"])
        .arg(&port_file)
        .run();
    out.success().stdout_is(b"");
    let stop = stop_line_in(&out.stderr).unwrap_or_else(|| panic!("no stop line: {out}"));
    assert_eq!((stop.count, stop.bytes), (0, 0), "{out}");
    assert!(
        out.stderr.starts_with("sockd: listening on 127.0.0.1:"),
        "{out}"
    );
    assert!(!port_file.exists(), "the port file outlived sockd");
}

/// `sockd --chat … &` at a shell's prompt: its terminal is read at a
/// client's prompt, where the job stops for its operator as `cat &` does,
/// not while it waits for a client, where a line typed at the shell would
/// stop it (`SIGTTIN`) before any client came, or end it (`EIO`) where
/// that signal is ignored.
#[test]
fn chat_server_in_the_background_leaves_its_terminal_alone_until_the_prompt() {
    if !skip::require_tool("setsid") || !skip::require_tool("bash") {
        return;
    }
    let (master, slave) = pty::open();
    let dir = TempDir::new();
    let pid_file = dir.join("pid");
    // setsid -c: a session whose controlling terminal is the pty; set -m:
    // the job gets a process group of its own, not the foreground one.
    let server = sockd()
        .wrap([
            "setsid",
            "-c",
            "bash",
            "-c",
            "set -m; \"$@\" & wait",
            "bash",
        ])
        .args(["--chat", "127.0.0.1", "0", "--pid-file"])
        .arg(&pid_file)
        .stdin(Stdio::from(slave))
        .serve();
    let mut pid = None;
    assert!(eventually(DEADLINE, || {
        pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        pid.is_some()
    }));
    let pid = pid.unwrap_or_else(|| panic!("no pid in {}", pid_file.display()));
    let job = Job(PidFd::open(pid).unwrap_or_else(|| panic!("sockd {pid} is gone")));
    let (tty, group, foreground) =
        procfs::terminal(pid).unwrap_or_else(|| panic!("sockd {pid} is gone"));
    assert!(
        tty != 0 && group != foreground,
        "sockd is no background job of a terminal: tty {tty}, group {group}, foreground {foreground}"
    );
    pty::type_line(&master, "typed at the shell");
    let _client = sockc()
        .args(["127.0.0.1", &server.port_arg(), "hi"])
        .spawn();
    // At the prompt it reads its terminal, and stops for its operator (or,
    // once its shell has gone, gets EIO): no reply is asserted.
    server.wait_stdout("127.0.0.1 say: hi\nyou say: ");
    drop(job);
}

/// A job that may be stopped, killed and waited for however its test ends:
/// its shell's end does not end it (a failed run left it stopped).
struct Job(PidFd);

impl Drop for Job {
    fn drop(&mut self) {
        self.0.signal(rustix::process::Signal::KILL);
        // No assert: a panic while the test panics would abort the run.
        let _ = self.0.ends_within(DEADLINE);
    }
}

#[test]
fn client_exits_zero_on_stdin_eof() {
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    sockc()
        .args(["127.0.0.1", &server.port_arg()])
        .stdin_bytes(b"hi")
        .run()
        .success()
        .stdout_is(b"you say: hi\n127.0.0.1 say: hi\nyou say: \n");
}

/// The lesson's C server, by behaviour: one `read` of up to 1024 bytes taken
/// as the whole message, then a 1024-byte NUL-padded `write`, then `close`.
fn lesson_c_server(
    replies: &'static [&'static [u8]],
) -> (std::thread::JoinHandle<Vec<Vec<u8>>>, u16) {
    let (listener, port) = listener();
    let handle = std::thread::spawn(move || {
        let mut heard = Vec::new();
        for reply in replies {
            let conn = accept(&listener);
            let mut say = [0u8; 1024];
            let n = sockkit::io::recv_some(&conn, &mut say).unwrap_or_else(|e| panic!("{e:?}"));
            heard.push(say[..n].to_vec());
            let mut padded = reply.to_vec();
            padded.resize(1024, 0);
            send_all(&conn, &padded);
        }
        heard
    });
    (handle, port)
}

#[test]
fn client_talks_to_the_lessons_c_server() {
    let (server, port) = lesson_c_server(&[b"hi, i got you", b"byebye"]);
    the_lessons_client(port);
    // The C server's one read must get the message alone: no newline, no padding.
    let heard = server.join().unwrap_or_default();
    assert_eq!(heard, vec![b"hi".to_vec(), b"bye".to_vec()]);
}
