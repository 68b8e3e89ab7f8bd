//! The lesson's two-terminal session, reproduced line for line.

use crate::util::{DEADLINE, SOCKC, SOCKD, Server, Stdin, run_with};

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

#[test]
fn chat_server_and_client_print_the_lessons_transcripts() {
    let server = Server::start(
        SOCKD,
        &["--chat", "127.0.0.1", "0", "--exit-after", "2"],
        Stdin::Bytes(b"hi, i got you\nbyebye\n".to_vec()),
    );
    let client = run_with(
        SOCKC,
        &["127.0.0.1", &server.port_arg()],
        Stdin::Bytes(b"hi\nbye\nq\n".to_vec()),
        DEADLINE,
    );
    client.success().stdout_is(CLIENT_TRANSCRIPT.as_bytes());
    let server = server.wait_exit();
    server.success().stdout_is(SERVER_TRANSCRIPT.as_bytes());
}

#[test]
fn chat_server_answers_the_lessons_nul_padded_client() {
    // The C client writes its 1024-byte buffer whole: "hi" and 1022 NULs.
    let server = Server::start(
        SOCKD,
        &["--chat", "127.0.0.1", "0", "--exit-after", "1"],
        Stdin::Bytes(b"hello\n".to_vec()),
    );
    let mut padded = b"hi".to_vec();
    padded.resize(1024, 0);
    let (sock, _) =
        sockkit::connect_socket("127.0.0.1", &server.port_arg()).unwrap_or_else(|e| panic!("{e}"));
    sockkit::io::send_all(&sock, &padded).unwrap_or_else(|e| panic!("{e:?}"));
    let mut reply = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        match sockkit::io::recv_some(&sock, &mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) => panic!("recv: {e:?}"),
        }
    }
    assert_eq!(reply, b"hello");
    let server = server.wait_exit();
    server
        .success()
        .stdout_is(b"127.0.0.1 say: hi\nyou say: hello\n");
}

#[test]
fn chat_server_exits_zero_on_stdin_eof_at_the_prompt() {
    let server = Server::start(
        SOCKD,
        &["--chat", "127.0.0.1", "0"],
        Stdin::Bytes(Vec::new()),
    );
    let client = run_with(
        SOCKC,
        &["127.0.0.1", &server.port_arg(), "hi"],
        Stdin::Null,
        DEADLINE,
    );
    client.success().stdout_is(b"");
    let server = server.wait_exit();
    server.success();
    assert!(
        server
            .stdout_text()
            .starts_with("127.0.0.1 say: hi\nyou say: "),
        "{}",
        server.stdout_text()
    );
}

#[test]
fn client_exits_zero_on_stdin_eof() {
    let server = Server::sockd(&["-q", "127.0.0.1", "0"]);
    let client = run_with(
        SOCKC,
        &["127.0.0.1", &server.port_arg()],
        Stdin::Bytes(b"hi".to_vec()),
        DEADLINE,
    );
    client
        .success()
        .stdout_is(b"you say: hi\n127.0.0.1 say: hi\nyou say: \n");
}

/// The lesson's C server, by behaviour: one `read` of up to 1024 bytes taken
/// as the whole message, then a 1024-byte NUL-padded `write`, then `close`.
fn lesson_c_server(
    replies: &'static [&'static [u8]],
) -> (std::thread::JoinHandle<Vec<Vec<u8>>>, u16) {
    let (listener, addr) = sockkit::bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
    sockkit::socket::listen(&listener, addr, 16).unwrap_or_else(|e| panic!("{e}"));
    let handle = std::thread::spawn(move || {
        let mut heard = Vec::new();
        for reply in replies {
            let (conn, _) = sockkit::socket::accept(&listener, rustix::net::SocketFlags::CLOEXEC)
                .unwrap_or_else(|e| panic!("{e:?}"));
            let mut say = [0u8; 1024];
            let n = sockkit::io::recv_some(&conn, &mut say).unwrap_or_else(|e| panic!("{e:?}"));
            heard.push(say[..n].to_vec());
            let mut padded = reply.to_vec();
            padded.resize(1024, 0);
            sockkit::io::send_all(&conn, &padded).unwrap_or_else(|e| panic!("{e:?}"));
        }
        heard
    });
    (handle, addr.port())
}

#[test]
fn client_talks_to_the_lessons_c_server() {
    let (server, port) = lesson_c_server(&[b"hi, i got you", b"byebye"]);
    let client = run_with(
        SOCKC,
        &["127.0.0.1", &port.to_string()],
        Stdin::Bytes(b"hi\nbye\nq\n".to_vec()),
        DEADLINE,
    );
    client.success().stdout_is(CLIENT_TRANSCRIPT.as_bytes());
    // The C server's one read must get the message alone: no newline, no padding.
    let heard = server.join().unwrap_or_default();
    assert_eq!(heard, vec![b"hi".to_vec(), b"bye".to_vec()]);
}
