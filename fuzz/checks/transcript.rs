//! The transcript: the message splitter in any chunking against a one-pass
//! oracle of the contract, and each say line: one safe line showing a
//! prefix of the message and counting exactly the rest.

use super::escape::{nothing_to_escape, unescape};
use sockkit::transcript::{MESSAGE_LIMIT, MessageSplitter, push_say_line};

const PREFIX: &str = "127.0.0.1 say: ";

/// The splitter on any bytes in any chunking: the same messages as in one
/// piece, and those the contract's: each message's first
/// [`MESSAGE_LIMIT`] bytes, the rest counted; every say line one escaped
/// line that shows a prefix of the message and counts what it hides.
pub fn any_chunking(data: &[u8], cuts: &[u16]) {
    let whole = split(&[data]);
    let mut chunks = Vec::new();
    let mut rest = data;
    for &cut in cuts {
        let at = usize::from(cut) % (rest.len() + 1);
        let (head, tail) = rest.split_at(at);
        chunks.push(head);
        rest = tail;
    }
    chunks.push(rest);
    let chunked = split(&chunks);
    assert_eq!(whole, chunked, "chunking changed the messages");
    let want = messages(data);
    assert_eq!(whole.len(), want.len(), "message count");
    let mut line = Vec::new();
    for ((message, dropped), want) in whole.iter().zip(want) {
        let kept = want.len().min(MESSAGE_LIMIT);
        assert_eq!((&message[..], *dropped), (&want[..kept], want.len() - kept));
        line.clear();
        push_say_line(&mut line, "127.0.0.1", message, *dropped);
        say_line(&line, want);
    }
}

fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, usize)> {
    let mut splitter = MessageSplitter::new();
    let mut got = Vec::new();
    for chunk in chunks {
        splitter.feed(chunk, |m, d| got.push((m.to_vec(), d)));
    }
    splitter.finish(|m, d| got.push((m.to_vec(), d)));
    got
}

/// The messages of a stream as the contract defines them: each ends at
/// `\n`, at a NUL or at the end of the stream; an empty one that a NUL ends
/// is padding, none at all; a `\r` just before the end is the line end's.
fn messages(data: &[u8]) -> Vec<&[u8]> {
    let mut found = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (raw, end, tail) = match rest.iter().position(|&b| b == b'\n' || b == 0) {
            Some(at) => (&rest[..at], Some(rest[at]), &rest[at + 1..]),
            None => (rest, None, &b""[..]),
        };
        if !(raw.is_empty() && end == Some(0)) {
            found.push(raw.strip_suffix(b"\r").unwrap_or(raw));
        }
        rest = tail;
    }
    found
}

/// One say line of `message` (the whole message, before any cut): valid
/// UTF-8, one `\n` at the end, nothing the category rule escapes, and the
/// body a prefix of the message (a cut never splits a character) followed,
/// when anything is hidden, by `…(+N bytes)` with N exactly the bytes not
/// shown.
pub fn say_line(line: &[u8], message: &[u8]) {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(err) => panic!("not UTF-8: {err}: {line:?}"),
    };
    let body = text
        .strip_suffix('\n')
        .and_then(|t| t.strip_prefix(PREFIX))
        .unwrap_or_else(|| panic!("not one say line: {text:?}"));
    assert!(!body.contains('\n'), "{text:?}");
    nothing_to_escape(body);
    let (escaped, hidden) = match body.rfind("…(+") {
        Some(at) if message.len() > MESSAGE_LIMIT => {
            let count = body[at..]
                .strip_prefix("…(+")
                .and_then(|m| m.strip_suffix(" bytes)"))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("bad cut mark in {text:?}"));
            (&body[..at], count)
        }
        _ => (body, 0),
    };
    let shown = unescape(escaped.as_bytes()).unwrap_or_else(|| panic!("{text:?}"));
    assert!(
        message.starts_with(&shown),
        "{text:?} is not of {message:?}"
    );
    assert_eq!(shown.len() + hidden, message.len(), "{text:?}");
    assert!(hidden <= message.len().saturating_sub(MESSAGE_LIMIT) + 3);
}
