//! Bytes on the wire: what a client sends cannot drive the operator's
//! terminal through sockd's transcript, and overlong messages are cut as
//! the contract says (1024 bytes kept, `…(+N bytes)`).

use crate::util::net::round_trip;
use crate::util::sockd;

#[test]
fn hostile_bytes_are_escaped_and_overlong_messages_cut_in_the_transcript() {
    let server = sockd()
        .args(["--threads", "1", "--exit-after", "1", "127.0.0.1", "0"])
        .serve();
    let mut stream: Vec<u8> = Vec::new();
    let mut expected = String::new();
    let mut say = |sent: &[u8], shown: &str| {
        stream.extend_from_slice(sent);
        expected.push_str("127.0.0.1 say: ");
        expected.push_str(shown);
        expected.push('\n');
    };
    say(b"\x1b]0;pwned\x07\n", r"\x1b]0;pwned\x07");
    say(b"\x1b[2J\x1b[H\n", r"\x1b[2J\x1b[H");
    say(b"ok\rEVIL\n", r"ok\rEVIL");
    say(b"\xc2\x9b31m\n", r"\u{9b}31m");
    say(b"\x9b31m\n", r"\x9b31m");
    say(b"back\x08\x08\x7f\n", r"back\x08\x08\x7f");
    say("\u{202e}gnp.exe\n".as_bytes(), r"\u{202e}gnp.exe");
    say(b"tab\there\n", r"tab\there");
    say(b"slash\\x1b\n", r"slash\\x1b");
    say(b"crlf\r\n", "crlf");
    say(b"nul\0\0\0\0", "nul");
    let long = vec![b'a'; 5000];
    say(
        &[&long[..], b"\n"].concat(),
        &format!("{}…(+3976 bytes)", "a".repeat(1024)),
    );
    let wide = "é".repeat(600);
    say(
        format!("{wide}\n").as_bytes(),
        &format!("{}…(+176 bytes)", "é".repeat(512)),
    );
    let mut cut_mid_char = vec![b'b'; 1023];
    cut_mid_char.extend_from_slice("€tail\n".as_bytes());
    say(&cut_mid_char, &format!("{}…(+7 bytes)", "b".repeat(1023)));
    say(b"last", "last");

    let echoed = round_trip(server.port(), &stream);
    assert_eq!(echoed, stream, "echo is byte for byte");
    let out = server.wait_exit();
    out.success();
    let transcript = out.stdout_text();
    assert_eq!(transcript, expected);
    // Whatever the table above misses: no control byte reaches the terminal.
    for line in out.stdout.split(|&b| b == b'\n') {
        assert!(!line.iter().any(|&b| b < 0x20 || b == 0x7f), "{line:?}");
        assert!(
            !line
                .windows(2)
                .any(|w| w[0] == 0xc2 && (0x80..0xa0).contains(&w[1]))
        );
    }
    eprintln!(
        "wire: {} bytes of hostile messages echoed intact; {} transcript lines, all escaped",
        stream.len(),
        transcript.lines().count()
    );
}
