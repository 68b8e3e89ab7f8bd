//! The one escaper: what a peer or `/proc` hands us reaches a terminal only
//! as text that can neither move the cursor, nor reorder the line, nor hide.
//!
//! Two forms of the same rule: [`push_escaped`] for transcript lines (blanks
//! kept, short escapes), [`field`] for table cells (blanks escaped too, so a
//! script splitting a row on whitespace gets the columns it expects).

/// Appends `bytes` with everything a terminal would act on escaped: C0 and C1
/// controls and DEL as `\xNN`/`\u{NN}`, bidi overrides as `\u{…}`, invalid
/// UTF-8 as `\xNN`, and `\` itself as `\\` so the escapes are unambiguous.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    use std::io::Write;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.extend_from_slice(b"\\\\"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\n' => out.extend_from_slice(b"\\n"),
                c if (c as u32) < 0x80 && c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if c.is_control() || is_bidi_control(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => {
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `bytes` as one table cell: what [`push_escaped`] escapes, plus every blank
/// and `\`, each byte as `\xNN`.
pub fn field(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            // Bidi overrides are format characters, not controls: a name
            // holding U+202E would reverse the rest of the row on screen.
            if c.is_control() || c.is_whitespace() || c == '\\' || is_bidi_control(c) {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_escapes_what_would_break_a_table() {
        assert_eq!(field(b"sockd"), "sockd");
        assert_eq!(field(b"a b\n"), "a\\x20b\\x0a");
        assert_eq!(field(b"\xff\\"), "\\xff\\x5c");
        assert_eq!(field("é".as_bytes()), "é");
        assert_eq!(
            field("a\u{202e}b\u{2066}".as_bytes()),
            "a\\xe2\\x80\\xaeb\\xe2\\x81\\xa6"
        );
    }
}
