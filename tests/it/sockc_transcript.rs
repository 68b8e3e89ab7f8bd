//! sockc's transcript mode (`you say:` / `IP say:`): what reaches the
//! terminal is escaped on both sides of the conversation.

use crate::util::net::LOCAL;
use crate::util::{sockc, sockd};

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
