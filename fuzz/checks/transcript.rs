//! The transcript: the message splitter in any chunking, the say line, and
//! the escaper's round trip.

use sockkit::escape::push_escaped;
use sockkit::transcript::{MESSAGE_LIMIT, MessageSplitter, push_say_line};

/// The splitter on any bytes in any chunking: the same messages as in one
/// piece, none longer than the limit, no more bytes kept and dropped than
/// came in, and every transcript line one escaped line.
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
    let mut accounted = 0usize;
    for (message, dropped) in &whole {
        assert!(message.len() <= MESSAGE_LIMIT);
        assert!(*dropped == 0 || message.len() + 1 >= MESSAGE_LIMIT);
        accounted += message.len() + dropped;
        let mut line = Vec::new();
        push_say_line(&mut line, "127.0.0.1", message, *dropped);
        say_line(&line);
    }
    assert!(accounted <= data.len());
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

/// One transcript line: valid UTF-8, one `\n` at the end, and nothing a
/// terminal acts on (C0, DEL, C1, bidi overrides).
pub fn say_line(line: &[u8]) {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(err) => panic!("not UTF-8: {err}: {line:?}"),
    };
    let body = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no newline: {text:?}"));
    assert!(body.starts_with("127.0.0.1 say: "), "{text:?}");
    for c in body.chars() {
        assert!(!c.is_control(), "control {c:?} in {text:?}");
        assert!(
            !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
            "bidi {c:?} in {text:?}"
        );
    }
}

/// Escaping is unambiguous: what `push_escaped` writes decodes back to the
/// original bytes.
pub fn escape_round_trip(bytes: &[u8]) {
    let mut escaped = Vec::new();
    push_escaped(&mut escaped, bytes);
    assert!(std::str::from_utf8(&escaped).is_ok());
    assert!(!escaped.iter().any(|&b| b < 0x20 || b == 0x7f));
    assert_eq!(unescape(&escaped).as_deref(), Some(bytes), "{escaped:?}");
}

/// The inverse of `push_escaped`: `\\`, `\t`, `\r`, `\n`, `\xNN` (a byte),
/// `\u{N…}` (a character); `None` for anything else after a backslash.
pub fn unescape(escaped: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < escaped.len() {
        if escaped[i] != b'\\' {
            out.push(escaped[i]);
            i += 1;
            continue;
        }
        match escaped.get(i + 1)? {
            b'\\' => out.push(b'\\'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b'x' => {
                let hex = std::str::from_utf8(escaped.get(i + 2..i + 4)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
                continue;
            }
            b'u' => {
                let rest = escaped.get(i + 2..)?.strip_prefix(b"{")?;
                let end = rest.iter().position(|&b| b == b'}')?;
                let code = u32::from_str_radix(std::str::from_utf8(&rest[..end]).ok()?, 16).ok()?;
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(char::from_u32(code)?.encode_utf8(&mut utf8).as_bytes());
                i += 3 + end + 1;
                continue;
            }
            _ => return None,
        }
        i += 2;
    }
    Some(out)
}
