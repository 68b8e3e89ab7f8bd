//! The one strict decimal parser: ASCII digits and nothing else.
//!
//! `str::parse` takes a leading `+`, and `strtoul` leading blanks, a sign and
//! trailing junk; ports on the command line, pids, fd names in `/proc` and
//! inodes in `/proc/net` must be exactly the digits of a number, so that
//! `+80`, ` 80` and `80x` are not quietly taken for 80.

/// `digits` as a `T`: non-empty, ASCII digits only (leading zeros allowed,
/// as `/proc` and users write them), no sign, no blanks, no overflow.
pub fn parse<T: TryFrom<u64>>(digits: &[u8]) -> Option<T> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
    }
    T::try_from(value).ok()
}

/// [`parse`] for text.
pub fn parse_str<T: TryFrom<u64>>(text: &str) -> Option<T> {
    parse(text.as_bytes())
}

/// Appends `n` in decimal: what `write!(out, "{n}")` does, without the
/// formatting machinery (a 20,000-row table writes ~300,000 numbers, with
/// `-i` ~600,000), into bytes: ASCII digits need no UTF-8 check.
pub fn push(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_as_display_writes_them() {
        for n in [0, 7, 10, 99, 100, 4026531840, u64::from(u32::MAX), u64::MAX] {
            let mut out = b"x".to_vec();
            push(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn digits_only_within_the_type() {
        assert_eq!(parse::<u32>(b"4121"), Some(4121));
        assert_eq!(parse::<u32>(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse::<u32>(b"4294967296"), None);
        assert_eq!(parse::<u16>(b"65535"), Some(u16::MAX));
        assert_eq!(parse::<u16>(b"65536"), None);
        assert_eq!(parse::<u64>(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse::<u64>(b"18446744073709551616"), None);
        assert_eq!(parse::<u16>(b"007"), Some(7));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1x",
            b"self",
            b".",
            b"\xd9\xa1",
        ] {
            assert_eq!(parse::<u64>(bad), None, "{bad:?}");
        }
    }
}
