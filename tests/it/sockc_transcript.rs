//! sockc's transcript mode (`you say:` / `IP say:`): what reaches the
//! terminal is escaped on both sides of the conversation, a reply is shown
//! whole and as it comes; and a stdout that is non-blocking is waited for,
//! in either mode.

use crate::util::net::{LOCAL, accept, listener, recv_exact, recv_to_eof, send_all};
use crate::util::procfs::status_kib;
use crate::util::{Cmd, DEADLINE, assert_same_bytes, eventually, random_bytes, sockc, sockd};
use rustix::fs::OFlags;
use rustix::pipe::{PipeFlags, pipe_with};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[test]
fn the_typed_line_is_escaped_like_the_reply() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    let typed = "\x1b[31mred\x1b[0m \u{202e}txt\x07\n";
    let shown = "\\x1b[31mred\\x1b[0m \\u{202e}txt\\x07";
    let out = sockc()
        .args([LOCAL, &server.port_arg()])
        .stdin_bytes(typed)
        .run();
    let raw = out
        .stdout
        .iter()
        .filter(|&&b| b == 0x1b || b == 0x07)
        .count();
    assert_eq!(raw, 0, "{raw} raw ESC/BEL bytes reached stdout\n{out}");
    out.success()
        .stdout_is(format!("you say: {shown}\n127.0.0.1 say: {shown}\nyou say: \n").as_bytes());
}

/// `ab NUL cd`, then `ef`, as typed and as echoed: the NUL inside the first
/// reply is shown, escaped, and nothing after it is lost.
const NUL_INPUT: &[u8] = b"ab\0cd\nef\n";
const NUL_TRANSCRIPT: &str = "\
you say: ab\\x00cd
127.0.0.1 say: ab\\x00cd
you say: ef
127.0.0.1 say: ef
you say: 
";

#[test]
fn keep_shows_a_reply_whole_with_its_nul_escaped() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    sockc()
        .args(["--keep", LOCAL, &server.port_arg()])
        .stdin_bytes(NUL_INPUT)
        .run()
        .success()
        .stdout_is(NUL_TRANSCRIPT.as_bytes());
}

#[test]
fn without_keep_a_reply_is_every_message_until_the_close_nuls_escaped() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    sockc()
        .args([LOCAL, &server.port_arg()])
        .stdin_bytes(NUL_INPUT)
        .run()
        .success()
        .stdout_is(NUL_TRANSCRIPT.as_bytes());
    // A server of our own: three messages, NULs inside one of them, the
    // lesson's NUL padding after the others.
    let (listener, port) = listener();
    let peer = std::thread::spawn(move || {
        let conn = accept(&listener);
        let heard = recv_to_eof(&conn);
        send_all(&conn, b"one\n\0\0x\0\0y\n\0\0\0two\0\0\0");
        heard
    });
    sockc()
        .args([LOCAL, &port.to_string()])
        .stdin_bytes(b"hi\nq\n")
        .run()
        .success()
        .stdout_is(
            b"you say: hi\n127.0.0.1 say: one\n127.0.0.1 say: x\\x00\\x00y\n\
              127.0.0.1 say: two\nyou say: q\n",
        );
    assert_eq!(peer.join().unwrap_or_default(), b"hi");
}

#[test]
fn keep_shows_what_follows_an_answer_as_the_next_answer() {
    // Two answers arrive for the first line: the second is not dropped, it
    // is the answer shown after the next line.
    let (listener, port) = listener();
    let peer = std::thread::spawn(move || {
        let conn = accept(&listener);
        let first = recv_exact(&conn, 4);
        send_all(&conn, b"a\nb\n");
        (first, recv_to_eof(&conn))
    });
    sockc()
        .args(["--keep", "--timeout", "5", LOCAL, &port.to_string()])
        .stdin_bytes(b"one\ntwo\nq\n")
        .run()
        .success()
        .stdout_is(b"you say: one\n127.0.0.1 say: a\nyou say: two\n127.0.0.1 say: b\nyou say: q\n");
    let heard = peer.join().unwrap_or_default();
    assert_eq!(heard, (b"one\n".to_vec(), b"two\n".to_vec()));
}

#[test]
fn a_reply_that_does_not_end_is_shown_as_it_comes_in_bounded_memory() {
    // Each `\n` is one `127.0.0.1 say: ` line; sockc kept every message
    // until the close (32 bytes each: 256 MiB for this stream).
    const STREAM: usize = 8 << 20;
    const LIMIT_KIB: u64 = 32 << 10;
    let (listener, port) = listener();
    let mut client = sockc()
        .args([LOCAL, &port.to_string()])
        .stdin_bytes(b"hi\n")
        .stdout_piped()
        .spawn();
    let pid = client.pid();
    let shown = Arc::new(AtomicBool::new(false));
    let server = std::thread::spawn({
        let shown = Arc::clone(&shown);
        move || {
            let conn = accept(&listener);
            let heard = recv_to_eof(&conn);
            let chunk = vec![b'\n'; 64 << 10];
            let (mut sent, mut sent_when_shown) = (0, None);
            while sent < STREAM {
                send_all(&conn, &chunk);
                sent += chunk.len();
                if sent_when_shown.is_none() && shown.load(Ordering::Relaxed) {
                    sent_when_shown = Some(sent);
                }
            }
            // Read before the close: after it sockc may print and exit.
            (heard, sent_when_shown, status_kib(pid, "VmHWM"))
        }
    });
    // Counted, not kept: the transcript is 16 times the stream.
    let mut stdout = client.take_stdout();
    let (mut bytes, mut lines) = (0, 0);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = stdout
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read sockc's stdout: {e}"));
        if n == 0 {
            break;
        }
        bytes += n;
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        // `you say: hi` and one `say:` line.
        if lines >= 2 {
            shown.store(true, Ordering::Relaxed);
        }
    }
    let out = client.wait_exit();
    let (heard, sent_when_shown, hwm_kib) = server.join().unwrap_or_else(|_| panic!("server"));
    assert!(
        hwm_kib < LIMIT_KIB,
        "sockc's VmHWM reached {hwm_kib} KiB (limit {LIMIT_KIB}) with {STREAM} bytes of \\n streamed\n{out}"
    );
    let Some(sent_when_shown) = sent_when_shown else {
        panic!("no say line was shown before the server closed, {STREAM} bytes later\n{out}");
    };
    out.success();
    assert_eq!(heard, b"hi");
    let expected = "you say: hi\n".len() + STREAM * "127.0.0.1 say: \n".len() + "you say: \n".len();
    assert_eq!(
        (bytes, lines),
        (expected, STREAM + 2),
        "transcript bytes and lines; the first line came {sent_when_shown} bytes into the stream"
    );
}

/// Runs `cmd` with stdout a pipe whose writing end is non-blocking (as when
/// another process set `O_NONBLOCK` on a shared file description), waits
/// until the pipe is full, then reads it slowly to the end: what came out,
/// and how the command ended.
fn through_a_full_non_blocking_pipe(cmd: Cmd) -> (Vec<u8>, crate::util::Outcome) {
    let (read_end, write_end) =
        pipe_with(PipeFlags::CLOEXEC).unwrap_or_else(|e| panic!("pipe: {e}"));
    rustix::fs::fcntl_setfl(&write_end, OFlags::NONBLOCK)
        .unwrap_or_else(|e| panic!("O_NONBLOCK: {e}"));
    let capacity = rustix::pipe::fcntl_getpipe_size(&write_end)
        .unwrap_or_else(|e| panic!("F_GETPIPE_SZ: {e}"));
    let client = cmd.stdout(write_end).spawn();
    // Full (but for part of a page: small writes share one), so the next
    // write the client tries is an EAGAIN.
    let full = capacity - rustix::param::page_size();
    let filled = eventually(DEADLINE, || {
        rustix::io::ioctl_fionread(&read_end).is_ok_and(|n| n >= full as u64)
    });
    assert!(
        filled,
        "the client never filled its {capacity}-byte stdout pipe"
    );
    let mut reader = std::fs::File::from(read_end);
    let mut got = Vec::new();
    let mut buf = [0u8; 8 << 10];
    loop {
        let n = reader
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read: {e}"));
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        // A reader slower than the client: the pipe stays full.
        std::thread::sleep(Duration::from_millis(1));
    }
    (got, client.wait_exit())
}

#[test]
fn a_full_non_blocking_stdout_is_waited_for_in_one_shot_mode() {
    const REPLY: usize = 4 << 20;
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    let payload = random_bytes(REPLY, 10);
    let cmd = sockc()
        .args([LOCAL, &server.port_arg(), "-"])
        .stdin_bytes(payload.clone());
    let (got, out) = through_a_full_non_blocking_pipe(cmd);
    assert_eq!(
        (out.code, got.len()),
        (Some(0), REPLY),
        "exit code and bytes of the {REPLY}-byte echo on stdout\n{out}"
    );
    assert_same_bytes(&got, &payload, "the echo");
}

#[test]
fn a_full_non_blocking_stdout_is_waited_for_in_transcript_mode() {
    const LINES: usize = 256 << 10;
    let (listener, port) = listener();
    let peer = std::thread::spawn(move || {
        let conn = accept(&listener);
        let heard = recv_to_eof(&conn);
        send_all(&conn, &b"abc\n".repeat(LINES));
        heard
    });
    let cmd = sockc()
        .args([LOCAL, &port.to_string()])
        .stdin_bytes(b"hi\n");
    let (got, out) = through_a_full_non_blocking_pipe(cmd);
    let expected = format!(
        "you say: hi\n{}you say: \n",
        "127.0.0.1 say: abc\n".repeat(LINES)
    );
    assert_eq!(
        (out.code, got.len()),
        (Some(0), expected.len()),
        "exit code and bytes of the transcript on stdout\n{out}"
    );
    assert_same_bytes(&got, expected.as_bytes(), "the transcript");
    assert_eq!(peer.join().unwrap_or_default(), b"hi");
}

/// Over 64 MiB with no newline yet: refused before it is read to its end.
fn typed_lines_then_an_endless_one(first: &[u8]) -> Vec<u8> {
    let mut typed = first.to_vec();
    typed.resize(first.len() + 65 * 1024 * 1024, b'a');
    typed.push(b'\n');
    typed
}

#[test]
fn a_typed_line_over_64_mib_is_refused_with_emsgsize_71() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    let out = sockc()
        .args([LOCAL, &server.port_arg()])
        .stdin_bytes(typed_lines_then_an_endless_one(b"hi\n"))
        .run();
    out.fails_with(71, "sockc: read stdin: message too long (EMSGSIZE)")
        .stderr_has("hint: a typed line is at most 64 MiB")
        .stdout_is(b"you say: hi\n127.0.0.1 say: hi\nyou say: ");
}

#[test]
fn a_chat_operators_line_over_64_mib_is_refused_with_emsgsize_71() {
    let server = sockd()
        .args(["-q", "--chat", LOCAL, "0"])
        .stdin_bytes(typed_lines_then_an_endless_one(b"ok\n"))
        .serve();
    let port = server.port_arg();
    sockc()
        .args([LOCAL, &port, "hi"])
        .run()
        .success()
        .stdout_is(b"ok");
    // The next client waits for the operator's next line: the long one.
    let _ = sockc().args([LOCAL, &port, "again"]).run();
    server.wait_exit().exits(71).stderr_is(&format!(
        "sockd: listening on {LOCAL}:{port}\n\
         sockd: read stdin: message too long (EMSGSIZE)\n\
         hint: a typed line is at most 64 MiB\n"
    ));
}
