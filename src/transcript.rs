//! The lesson's `<peer-ip> say: <msg>` lines, made safe for a terminal.
//!
//! A byte stream has no messages; the lesson's server assumed one `read` was
//! one. Here a message ends at `\n`, at a NUL (the lesson's client pads its
//! 1024-byte writes with NULs) or at end of stream, and what a peer sends can
//! neither drive the operator's terminal nor grow memory without bound.
//!
//! A server's replies, as the client shows them, end only at `\n` or end of
//! stream ([`MessageSplitter::for_replies`]): a NUL inside a reply is shown,
//! escaped, and only the padding around it is dropped.

/// Bytes of a message shown before it is cut with `…(+N bytes)`.
pub const MESSAGE_LIMIT: usize = 1024;

/// Splits a byte stream into messages, keeping at most [`MESSAGE_LIMIT`]
/// bytes of the current one and counting the rest.
///
/// A message is the bytes before its end (`\n`, NUL, end of stream) less
/// one `\r` just before it: that `\r` belongs to the line end (CRLF), kept
/// or not, so it is neither shown nor counted as cut.
#[derive(Debug, Default)]
pub struct MessageSplitter {
    kept: Vec<u8>,
    dropped: usize,
    /// NULs are message bytes ([`MessageSplitter::for_replies`]).
    nuls_inside: bool,
    /// NULs seen after the message's last other byte: padding unless another
    /// byte of the message follows them.
    pending_nuls: usize,
    /// The last byte of the message so far, kept or dropped, is `\r`.
    ends_with_cr: bool,
}

impl MessageSplitter {
    /// A splitter at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A splitter for the replies a client shows: a message ends only at
    /// `\n` or end of stream. NULs between two of a message's bytes are part
    /// of it; NULs before its first byte or after its last (the lesson's
    /// server pads its 1024-byte writes) are padding, neither shown nor
    /// counted as cut.
    pub fn for_replies() -> Self {
        Self {
            nuls_inside: true,
            ..Self::default()
        }
    }

    /// Feeds the next bytes of the stream; `emit(message, dropped)` is called
    /// for each message they complete, `dropped` the count of its bytes not
    /// in `message`. NULs that follow a message's end (the lesson's padding)
    /// end nothing.
    pub fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&[u8], usize)) {
        if self.nuls_inside {
            return self.feed_reply(bytes, emit);
        }
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == 0) {
            self.keep(&bytes[..end]);
            let is_padding = bytes[end] == 0 && self.kept.is_empty() && self.dropped == 0;
            if !is_padding {
                self.emit_current(&mut emit);
            }
            bytes = &bytes[end + 1..];
        }
        self.keep(bytes);
    }

    fn feed_reply(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&[u8], usize)) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == 0) {
            self.keep_after_nuls(&bytes[..end]);
            if bytes[end] == b'\n' {
                self.emit_current(&mut emit);
            } else if self.has_message() {
                self.pending_nuls = self.pending_nuls.saturating_add(1);
            }
            bytes = &bytes[end + 1..];
        }
        self.keep_after_nuls(bytes);
    }

    /// Keeps `bytes`, a run without NULs; the NULs before it, if any, turn
    /// out to be inside the message.
    fn keep_after_nuls(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        const NULS: [u8; 64] = [0; 64];
        let mut nuls = core::mem::take(&mut self.pending_nuls);
        while nuls > 0 && self.kept.len() < MESSAGE_LIMIT {
            let run = nuls.min(NULS.len());
            self.keep(&NULS[..run]);
            nuls -= run;
        }
        self.dropped = self.dropped.saturating_add(nuls);
        self.keep(bytes);
    }

    fn has_message(&self) -> bool {
        !self.kept.is_empty() || self.dropped > 0
    }

    /// End of stream: emits the unterminated last message, if there is one.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8], usize)) {
        if self.has_message() {
            self.emit_current(&mut emit);
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if let Some(&last) = bytes.last() {
            self.ends_with_cr = last == b'\r';
        }
        let room = MESSAGE_LIMIT.saturating_sub(self.kept.len());
        let taken = bytes.len().min(room);
        self.kept.extend_from_slice(&bytes[..taken]);
        self.dropped += bytes.len() - taken;
    }

    fn emit_current(&mut self, emit: &mut impl FnMut(&[u8], usize)) {
        let mut message = self.kept.as_slice();
        let mut dropped = self.dropped;
        if self.ends_with_cr {
            // The line end's `\r` is the last byte: among the dropped ones
            // if any were, else the last one kept.
            match (dropped, message.split_last()) {
                (1.., _) => dropped -= 1,
                (0, Some((_, before))) => message = before,
                (0, None) => {}
            }
        }
        emit(message, dropped);
        self.kept.clear();
        self.dropped = 0;
        self.pending_nuls = 0;
        self.ends_with_cr = false;
    }
}

/// Appends `IP say: MESSAGE\n` to `out`, the message escaped and, when
/// `dropped` bytes were cut from it, marked `…(+N bytes)`.
pub fn push_say_line(
    out: &mut Vec<u8>,
    ip: impl core::fmt::Display,
    message: &[u8],
    dropped: usize,
) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{ip} say: ");
    let (shown, split_char) = cut_at_char_boundary(message, dropped > 0);
    crate::escape::push_escaped(out, shown);
    let dropped = dropped + split_char;
    if dropped > 0 {
        let _ = write!(out, "…(+{dropped} bytes)");
    }
    out.push(b'\n');
}

/// When a message was cut, a UTF-8 character may have been cut in half; show
/// none of it rather than an escaped fragment.
fn cut_at_char_boundary(message: &[u8], was_cut: bool) -> (&[u8], usize) {
    if !was_cut {
        return (message, 0);
    }
    match std::str::from_utf8(message) {
        Err(err) if err.error_len().is_none() => {
            let valid = err.valid_up_to();
            (&message[..valid], message.len() - valid)
        }
        _ => (message, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, usize)> {
        let mut splitter = MessageSplitter::new();
        let mut got = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, |m, d| got.push((m.to_vec(), d)));
        }
        splitter.finish(|m, d| got.push((m.to_vec(), d)));
        got
    }

    fn say(message: &[u8], dropped: usize) -> String {
        let mut out = Vec::new();
        push_say_line(&mut out, "127.0.0.1", message, dropped);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn messages_end_at_newline_nul_and_eof() {
        let got = split(&[b"hi\nb", b"ye\0tail"]);
        assert_eq!(
            got,
            vec![
                (b"hi".to_vec(), 0),
                (b"bye".to_vec(), 0),
                (b"tail".to_vec(), 0)
            ]
        );
    }

    #[test]
    fn nul_padding_after_a_message_is_dropped() {
        let mut lesson_write = b"hi".to_vec();
        lesson_write.resize(1024, 0);
        assert_eq!(split(&[&lesson_write]), vec![(b"hi".to_vec(), 0)]);
    }

    #[test]
    fn empty_lines_are_messages_but_empty_streams_are_not() {
        assert_eq!(split(&[b"\n"]), vec![(Vec::new(), 0)]);
        assert!(split(&[b""]).is_empty());
        assert_eq!(split(&[b"crlf\r\n"]), vec![(b"crlf".to_vec(), 0)]);
    }

    fn split_replies(chunks: &[&[u8]]) -> Vec<(Vec<u8>, usize)> {
        let mut splitter = MessageSplitter::for_replies();
        let mut got = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, |m, d| got.push((m.to_vec(), d)));
        }
        splitter.finish(|m, d| got.push((m.to_vec(), d)));
        got
    }

    #[test]
    fn a_reply_keeps_the_nuls_inside_it_and_drops_the_padding_around_it() {
        let mut lesson_reply = b"hi, i got you".to_vec();
        lesson_reply.resize(1024, 0);
        for (chunks, expected) in [
            (&[&b"ab\0cd\nef\n"[..]][..], &[&b"ab\0cd"[..], b"ef"][..]),
            (&[&lesson_reply], &[b"hi, i got you"]),
            // Padding after a line's end is not the start of the next one.
            (&[b"one\n\0\0two\0\0\0"], &[b"one", b"two"]),
            (&[b"a\0", b"\0", b"b\0\n"], &[b"a\0\0b"]),
            (&[b"\0\0\0"], &[]),
            (&[b"\0\0\n"], &[b""]),
        ] {
            let got = split_replies(chunks);
            let want: Vec<(Vec<u8>, usize)> = expected.iter().map(|m| (m.to_vec(), 0)).collect();
            assert_eq!(got, want, "{chunks:?}");
        }
        assert_eq!(say(b"ab\0cd", 0), "127.0.0.1 say: ab\\x00cd\n");
    }

    #[test]
    fn nuls_inside_a_long_reply_count_towards_its_cut() {
        let mut reply = vec![b'a'; MESSAGE_LIMIT - 4];
        reply.extend_from_slice(&[0; 10]);
        reply.extend_from_slice(b"b\0\0\n");
        let got = split_replies(&[&reply]);
        let mut shown = vec![b'a'; MESSAGE_LIMIT - 4];
        shown.extend_from_slice(&[0; 4]);
        // Six of the ten inner NULs and `b`; the two after `b` are padding.
        assert_eq!(got, vec![(shown, 7)]);
    }

    #[test]
    fn a_reply_is_its_line_less_the_nuls_around_it_in_any_chunking() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            // Short lines of `a`, NUL and `\n`, so none is cut.
            let stream: Vec<u8> = (0..next() % 200)
                .map(|_| [b'a', 0, 0, b'\n'][(next() % 4) as usize])
                .collect();
            let mut expected: Vec<(Vec<u8>, usize)> = Vec::new();
            let lines: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
            for (i, line) in lines.iter().enumerate() {
                let first = line.iter().position(|&b| b != 0);
                let last = line.iter().rposition(|&b| b != 0);
                let inner = first.zip(last).map_or(&[][..], |(f, l)| &line[f..=l]);
                // The text after the last `\n` is a message only if it has one.
                if i + 1 < lines.len() || !inner.is_empty() {
                    expected.push((inner.to_vec(), 0));
                }
            }
            let at = (next() as usize) % (stream.len() + 1);
            let (head, tail) = stream.split_at(at);
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            assert_eq!(split_replies(&[&stream]), expected, "{stream:?}");
            assert_eq!(split_replies(&[head, tail]), expected, "{stream:?} at {at}");
            assert_eq!(split_replies(&bytes), expected, "{stream:?} by bytes");
        }
    }

    #[test]
    fn long_messages_are_cut_and_counted_across_chunks() {
        let long = vec![b'a'; 1000];
        let got = split(&[&long, &long, b"\nnext"]);
        assert_eq!(got[0].0.len(), MESSAGE_LIMIT);
        assert_eq!(got[0].1, 2000 - MESSAGE_LIMIT);
        assert_eq!(got[1], (b"next".to_vec(), 0));
        assert!(say(&got[0].0, got[0].1).ends_with("a…(+976 bytes)\n"));
    }

    /// `count` bytes `a`, then `tail`.
    fn a_then(count: usize, tail: &[u8]) -> Vec<u8> {
        let mut bytes = vec![b'a'; count];
        bytes.extend_from_slice(tail);
        bytes
    }

    fn say_all(bytes: &[u8]) -> String {
        split(&[bytes])
            .iter()
            .map(|(message, dropped)| say(message, *dropped))
            .collect()
    }

    #[test]
    fn a_cut_mark_counts_the_message_bytes_not_shown() {
        let a1023 = "a".repeat(1023);
        for (count, tail, shown) in [
            // 1024 bytes fit; the line end after them is not a cut.
            (1024, &b"\r\n"[..], "a"),
            (1024, b"\r", "a"),
            // One byte more than fits is one byte cut, whatever ends it.
            (1025, b"\r\n", "a…(+1 bytes)"),
            (1025, b"\n", "a…(+1 bytes)"),
            (1025, b"\0", "a…(+1 bytes)"),
            (1025, b"", "a…(+1 bytes)"),
            // A `\r` inside the message is a message byte: shown (escaped)
            // when it fits, counted when it is cut.
            (1023, b"\rbbbb\n", "\\r…(+4 bytes)"),
            (1024, b"\rbbbb\n", "a…(+5 bytes)"),
            // Two before the `\n`: the second is the line end's.
            (1024, b"\r\r\n", "a…(+1 bytes)"),
        ] {
            assert_eq!(
                say_all(&a_then(count, tail)),
                format!("127.0.0.1 say: {a1023}{shown}\n"),
                "{count} a + {tail:?}"
            );
        }
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let mut message = vec![b'a'; MESSAGE_LIMIT - 1];
        message.push(0xe4); // first byte of a three-byte character
        assert!(say(&message, 2).ends_with("a…(+3 bytes)\n"));
    }

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(
            say(b"\x1b[31mred\x07", 0),
            "127.0.0.1 say: \\x1b[31mred\\x07\n"
        );
        assert_eq!(
            say("tab\there\u{9b}2J\u{202e}".as_bytes(), 0),
            "127.0.0.1 say: tab\\there\\u{9b}2J\\u{202e}\n"
        );
        assert_eq!(
            say(b"\xff\\ok \xc3\xa9", 0),
            "127.0.0.1 say: \\xff\\\\ok \u{e9}\n"
        );
        assert_eq!(say(b"\x7f", 0), "127.0.0.1 say: \\x7f\n");
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_on_one_line() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..2048)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let mut splitter = MessageSplitter::new();
            let mut lines = Vec::new();
            splitter.feed(&bytes, |m, d| push_say_line(&mut lines, "::1", m, d));
            splitter.finish(|m, d| push_say_line(&mut lines, "::1", m, d));
            for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                assert!(line.starts_with(b"::1 say: "));
                assert!(!line.iter().any(|&b| b < 0x20 || b == 0x7f));
            }
        }
    }
}
