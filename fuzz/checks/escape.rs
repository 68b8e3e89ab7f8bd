//! The escaper against the Unicode Character Database: which characters
//! must be escaped comes from `fuzz/data/unicode-17.0.0.txt` (every code
//! point's General_Category and Default_Ignorable_Code_Point, made from the
//! UCD by `fuzz/data/generate.py`), parsed here on its own, never from the
//! table the escaper searches.

use sockkit::escape::{field, push_escaped};
use std::sync::OnceLock;

const DATA: &str = include_str!("../data/unicode-17.0.0.txt");
const CODE_POINTS: usize = 0x11_0000;

/// The categories every form escapes (the rule of `sockkit::escape`): Cc,
/// Cf, Zl, Zp, Cs, Co, Cn; and every Default_Ignorable_Code_Point.
const ESCAPED_CATEGORIES: [&str; 7] = ["Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"];
/// The blanks, which table cells escape too.
const BLANK_CATEGORY: &str = "Zs";

/// Code point sets drawn from the data file.
pub struct Ucd {
    escaped: Vec<u64>,
    blank: Vec<u64>,
    control: Vec<u64>,
}

fn has(set: &[u64], cp: u32) -> bool {
    set[cp as usize / 64] >> (cp % 64) & 1 == 1
}

impl Ucd {
    /// Whether every form must escape `cp`.
    pub fn must_escape(&self, cp: u32) -> bool {
        has(&self.escaped, cp)
    }

    /// Whether `cp` is a blank (Zs).
    pub fn is_blank(&self, cp: u32) -> bool {
        has(&self.blank, cp)
    }

    /// Whether `cp` is Cc.
    pub fn is_control(&self, cp: u32) -> bool {
        has(&self.control, cp)
    }

    fn parse(text: &str) -> Self {
        let words = CODE_POINTS / 64;
        let (mut escaped, mut blank, mut control) =
            (vec![0u64; words], vec![0u64; words], vec![0u64; words]);
        let mut next = 0u32;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let fields: Vec<&str> = line.split(';').map(str::trim).collect();
            let (first, last) = match fields[0].split_once("..") {
                Some((a, b)) => (a, b),
                None => (fields[0], fields[0]),
            };
            let hex =
                |h: &str| u32::from_str_radix(h, 16).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let (first, last) = (hex(first), hex(last));
            assert_eq!(first, next, "the data skips or repeats at {line:?}");
            let gc = fields[1];
            let ignorable = match fields.get(2) {
                None => false,
                Some(&"DI") => true,
                Some(other) => panic!("{line:?}: unknown property {other:?}"),
            };
            for cp in first..=last {
                let (word, bit) = (cp as usize / 64, 1u64 << (cp % 64));
                if ESCAPED_CATEGORIES.contains(&gc) || ignorable {
                    escaped[word] |= bit;
                }
                if gc == BLANK_CATEGORY {
                    blank[word] |= bit;
                }
                if gc == "Cc" {
                    control[word] |= bit;
                }
            }
            next = last + 1;
        }
        assert_eq!(next as usize, CODE_POINTS, "the data ends early");
        for cp in 0..0x80 {
            let printable = (0x20..0x7f).contains(&cp);
            assert_eq!(has(&escaped, cp), !printable, "U+{cp:04X}");
        }
        Self {
            escaped,
            blank,
            control,
        }
    }
}

/// The data file, parsed once.
pub fn ucd() -> &'static Ucd {
    static UCD: OnceLock<Ucd> = OnceLock::new();
    UCD.get_or_init(|| Ucd::parse(DATA))
}

/// The bytes of code point `cp`, and what `push_escaped` and `field` must
/// write for them, appended to the three buffers. A surrogate (never a
/// `char`) is the three bytes that would encode it: each invalid, each a
/// byte escape in both forms.
fn push_expected(cp: u32, input: &mut Vec<u8>, transcript: &mut String, cell: &mut String) {
    use std::fmt::Write;
    let Some(c) = char::from_u32(cp) else {
        let bytes = [
            0xe0 | (cp >> 12) as u8,
            0x80 | (cp >> 6 & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ];
        input.extend_from_slice(&bytes);
        for b in bytes {
            let _ = write!(transcript, "\\x{b:02x}");
            let _ = write!(cell, "\\x{b:02x}");
        }
        return;
    };
    assert_eq!(c.is_control(), ucd().is_control(cp), "U+{cp:04X}");
    let mut utf8 = [0u8; 4];
    let bytes = c.encode_utf8(&mut utf8).as_bytes();
    input.extend_from_slice(bytes);
    let escaped = ucd().must_escape(cp);
    match c {
        '\\' => transcript.push_str("\\\\"),
        '\t' => transcript.push_str("\\t"),
        '\r' => transcript.push_str("\\r"),
        '\n' => transcript.push_str("\\n"),
        c if escaped && c.is_ascii() => {
            let _ = write!(transcript, "\\x{cp:02x}");
        }
        _ if escaped => {
            let _ = write!(transcript, "\\u{{{cp:x}}}");
        }
        c => transcript.push(c),
    }
    if c == '\\' || escaped || ucd().is_blank(cp) {
        for b in bytes {
            let _ = write!(cell, "\\x{b:02x}");
        }
    } else {
        cell.push(c);
    }
}

/// Code points `cps` (their bytes in `input`) through both forms, at once:
/// escaping is per character, so the output is the expected forms one after
/// the other. On a difference, each code point alone, to name the first.
fn check_run(cps: core::ops::RangeInclusive<u32>, input: &[u8], transcript: &str, cell: &str) {
    let mut out = Vec::new();
    push_escaped(&mut out, input);
    let got_cell = field(input);
    if out != transcript.as_bytes() || got_cell != cell {
        for cp in cps.clone() {
            let (mut one, mut want_t, mut want_f) = (Vec::new(), String::new(), String::new());
            push_expected(cp, &mut one, &mut want_t, &mut want_f);
            out.clear();
            push_escaped(&mut out, &one);
            let got = String::from_utf8_lossy(&out);
            assert_eq!(got, want_t, "U+{cp:04X}: transcript form");
            assert_eq!(field(&one), want_f, "U+{cp:04X}: table cell form");
        }
        panic!(
            "U+{:04X}..U+{:04X} differ only together",
            cps.start(),
            cps.end()
        );
    }
    assert_eq!(unescape(&out).as_deref(), Some(input), "{cps:?}");
    assert_eq!(
        unescape(got_cell.as_bytes()).as_deref(),
        Some(input),
        "{cps:?}"
    );
}

/// Every code point U+0000..U+10FFFF through both forms: escaped exactly
/// when the category rule says so, in the form's own escape, and decoded
/// back to its bytes; surrogates as the bytes that would encode them. The
/// data's Cc agrees with `char::is_control`.
pub fn every_code_point() {
    let (major, minor, patch) = sockkit::escape::UNICODE_VERSION;
    assert!(
        DATA.starts_with(&format!("# Unicode {major}.{minor}.{patch}:")),
        "the escaper's table and the data are of different Unicode versions"
    );
    let (mut input, mut transcript, mut cell) = (Vec::new(), String::new(), String::new());
    let mut first = 0;
    for cp in 0..CODE_POINTS as u32 {
        push_expected(cp, &mut input, &mut transcript, &mut cell);
        if input.len() >= 1 << 14 || cp as usize == CODE_POINTS - 1 {
            check_run(first..=cp, &input, &transcript, &cell);
            (first, input, transcript, cell) = (cp + 1, Vec::new(), String::new(), String::new());
        }
    }
}

/// Nothing in `text` that the category rule escapes. Escaped text is
/// mostly ASCII, so ASCII is judged by byte (the data agrees: `parse`
/// checks that printable ASCII is all it lets through).
#[track_caller]
pub fn nothing_to_escape(text: &str) {
    let mut at = 0;
    while let Some(&byte) = text.as_bytes().get(at) {
        let c = match byte {
            b' '..=b'~' => {
                at += 1;
                continue;
            }
            _ => text[at..].chars().next().unwrap_or_default(),
        };
        assert!(
            !ucd().must_escape(u32::from(c)),
            "{c:?} shown raw in {text:?}"
        );
        at += c.len_utf8();
    }
}

/// Escaping is unambiguous and safe: what `push_escaped` and `field` write
/// is valid UTF-8 holding nothing the rule escapes (and, in a cell, no
/// blank), and decodes back to the original bytes.
pub fn round_trip(bytes: &[u8]) {
    let mut escaped = Vec::new();
    push_escaped(&mut escaped, bytes);
    let text = std::str::from_utf8(&escaped).unwrap_or_else(|e| panic!("{e}: {escaped:?}"));
    nothing_to_escape(text);
    assert_eq!(unescape(&escaped).as_deref(), Some(bytes), "{text:?}");
    field_round_trip(bytes);
}

/// The same for `field` alone (the transcript target checks
/// `push_escaped` through its say lines).
pub fn field_round_trip(bytes: &[u8]) {
    let cell = field(bytes);
    nothing_to_escape(&cell);
    assert!(
        !cell.chars().any(|c| ucd().is_blank(u32::from(c))),
        "blank in {cell:?}"
    );
    assert_eq!(
        unescape(cell.as_bytes()).as_deref(),
        Some(bytes),
        "{cell:?}"
    );
}

/// The inverse of both forms: `\\`, `\t`, `\r`, `\n`, `\xNN` (a byte),
/// `\u{N…}` (a character); `None` for anything else after a backslash.
pub fn unescape(escaped: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut i = 0;
    while i < escaped.len() {
        let Some(plain) = escaped[i..].iter().position(|&b| b == b'\\') else {
            out.extend_from_slice(&escaped[i..]);
            break;
        };
        out.extend_from_slice(&escaped[i..i + plain]);
        i += plain;
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
