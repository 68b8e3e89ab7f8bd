//! The one escaper: what a peer or `/proc` hands us reaches a terminal only
//! as text that can neither move the cursor, nor reorder the line, nor hide.
//!
//! One rule, by Unicode category ([`needs_escape`]): controls (Cc), format
//! characters (Cf: bidi controls, zero widths, the soft hyphen, tags), line
//! and paragraph separators (Zl, Zp), every default-ignorable code point,
//! private use (Co: terminals give it meaning) and unassigned code points
//! (Cn: a terminal on a newer Unicode may give them one), as of
//! [`UNICODE_VERSION`]. Invalid UTF-8 (which includes encoded surrogates,
//! Cs) is escaped byte by byte.
//!
//! Two forms of that rule: [`push_escaped`] for transcript lines (blanks
//! kept, short escapes), [`field`] for table cells (blanks escaped too, so a
//! script splitting a row on whitespace gets the columns it expects).

mod table;

pub use table::UNICODE_VERSION;

/// Whether `c` is shown escaped in every form: General_Category Cc, Cf, Zl,
/// Zp, Co or Cn, or Default_Ignorable_Code_Point.
pub fn needs_escape(c: char) -> bool {
    // Printable ASCII, most of what is ever shown, without a search.
    !matches!(c, ' '..='~') && in_ranges(&table::ESCAPED, c)
}

/// Whether `c` is a blank (General_Category Zs); the other ASCII whitespace
/// is Cc, which [`needs_escape`] covers.
fn is_blank(c: char) -> bool {
    in_ranges(&table::BLANK, c)
}

fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let c = u32::from(c);
    let at = ranges.partition_point(|&(_, last)| last < c);
    ranges.get(at).is_some_and(|&(first, _)| first <= c)
}

/// Appends `bytes` with everything [`needs_escape`] names escaped: `\t`,
/// `\r`, `\n`, other ASCII as `\xNN`, the rest as `\u{…}`; invalid UTF-8 as
/// `\xNN`, and `\` itself as `\\` so the escapes are unambiguous.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    escape(
        out,
        bytes,
        |c| c == '\\' || needs_escape(c),
        push_short_escape,
    );
}

/// A path for a message or a log line, with [`push_escaped`]'s escapes: a
/// name chosen by someone else never acts on the terminal it reaches.
pub fn path(path: &std::path::Path) -> String {
    let mut out = Vec::new();
    push_escaped(
        &mut out,
        std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()),
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// `bytes` as one table cell: what [`push_escaped`] escapes, plus every blank
/// and `\`, each byte as `\xNN`.
pub fn field(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    escape(
        &mut out,
        bytes,
        |c| c == '\\' || needs_escape(c) || is_blank(c),
        |out, c| {
            let mut utf8 = [0u8; 4];
            for &byte in c.encode_utf8(&mut utf8).as_bytes() {
                push_byte_escape(out, byte);
            }
        },
    );
    out
}

/// Where escaped text goes: a transcript's bytes or a cell's `String`.
trait Sink {
    fn push_str(&mut self, text: &str);
    /// `byte` is ASCII.
    fn push_ascii(&mut self, byte: u8);
}

impl Sink for Vec<u8> {
    fn push_str(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
    fn push_ascii(&mut self, byte: u8) {
        self.push(byte);
    }
}

impl Sink for String {
    fn push_str(&mut self, text: &str) {
        String::push_str(self, text);
    }
    fn push_ascii(&mut self, byte: u8) {
        self.push(char::from(byte));
    }
}

/// Copies runs of characters that are not `hidden` as they are, writes the
/// others with `escaped`, and every invalid byte as `\xNN`.
fn escape<S: Sink>(
    out: &mut S,
    bytes: &[u8],
    hidden: impl Fn(char) -> bool,
    escaped: impl Fn(&mut S, char),
) {
    for chunk in bytes.utf8_chunks() {
        let text = chunk.valid();
        let mut shown = 0;
        for (at, c) in text.char_indices().filter(|&(_, c)| hidden(c)) {
            out.push_str(&text[shown..at]);
            escaped(out, c);
            shown = at + c.len_utf8();
        }
        out.push_str(&text[shown..]);
        for &byte in chunk.invalid() {
            push_byte_escape(out, byte);
        }
    }
}

fn push_short_escape(out: &mut impl Sink, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        c if c.is_ascii() => push_byte_escape(out, c as u8),
        c => {
            out.push_str("\\u{");
            let code = u32::from(c);
            let digits = (32 - code.leading_zeros()).div_ceil(4);
            for shift in (0..digits).rev() {
                out.push_ascii(HEX[(code >> (shift * 4)) as usize & 0xf]);
            }
            out.push_ascii(b'}');
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_byte_escape(out: &mut impl Sink, byte: u8) {
    out.push_str("\\x");
    out.push_ascii(HEX[usize::from(byte >> 4)]);
    out.push_ascii(HEX[usize::from(byte & 0xf)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_escaped(&mut out, bytes);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn field_escapes_what_would_break_a_table() {
        for (name, want) in [
            ("sockd", "sockd"),
            ("é", "é"),
            ("a b\n", "a\\x20b\\x0a"),
            ("a\u{a0}b\u{3000}", "a\\xc2\\xa0b\\xe3\\x80\\x80"), // blanks
            ("\\", "\\x5c"),
            // A process name cannot reverse or hide the rest of the row.
            ("x\u{202e}y", "x\\xe2\\x80\\xaey"),
            ("\u{61c}\u{200b}", "\\xd8\\x9c\\xe2\\x80\\x8b"),
        ] {
            assert_eq!(field(name.as_bytes()), want, "{name:?}");
        }
        assert_eq!(field(b"\xff"), "\\xff");
    }

    #[test]
    fn transcript_escapes_format_separator_and_ignorable_characters() {
        for (c, want) in [
            ('\u{61c}', "\\u{61c}"),       // ARABIC LETTER MARK (Cf, bidi)
            ('\u{200b}', "\\u{200b}"),     // ZERO WIDTH SPACE (Cf)
            ('\u{200d}', "\\u{200d}"),     // ZERO WIDTH JOINER (Cf)
            ('\u{feff}', "\\u{feff}"),     // BYTE ORDER MARK (Cf)
            ('\u{2028}', "\\u{2028}"),     // LINE SEPARATOR (Zl)
            ('\u{2029}', "\\u{2029}"),     // PARAGRAPH SEPARATOR (Zp)
            ('\u{ad}', "\\u{ad}"),         // SOFT HYPHEN (Cf)
            ('\u{fff9}', "\\u{fff9}"),     // INTERLINEAR ANNOTATION ANCHOR (Cf)
            ('\u{e0041}', "\\u{e0041}"),   // TAG LATIN CAPITAL LETTER A (Cf)
            ('\u{fe0f}', "\\u{fe0f}"),     // VARIATION SELECTOR-16 (Mn, ignorable)
            ('\u{3164}', "\\u{3164}"),     // HANGUL FILLER (Lo, ignorable)
            ('\u{e000}', "\\u{e000}"),     // private use (Co)
            ('\u{378}', "\\u{378}"),       // unassigned (Cn)
            ('\u{10ffff}', "\\u{10ffff}"), // noncharacter (Cn)
        ] {
            assert_eq!(escaped(c.to_string().as_bytes()), want, "{c:?}");
        }
    }

    #[test]
    fn transcript_keeps_text_and_blanks() {
        assert_eq!(escaped("a b\u{a0}é中🙂".as_bytes()), "a b\u{a0}é中🙂");
        assert_eq!(escaped(b"\x1b[1m\t\\"), "\\x1b[1m\\t\\\\");
        assert_eq!(escaped(b"\xed\xa0\x80"), "\\xed\\xa0\\x80"); // a surrogate
    }
}
