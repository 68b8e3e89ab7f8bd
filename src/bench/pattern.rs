//! The bytes sockbench sends: pseudo-random, so that a flipped, lost,
//! repeated or misrouted byte shows up when the echo is compared.
//!
//! One buffer is shared by every connection; a request is a window into it
//! that starts at an offset depending on the connection and the request
//! number, so two connections (or two requests on one) almost never send the
//! same bytes, and an echo delivered to the wrong connection does not match.

/// The period of the byte sequence, and so how many distinct request offsets
/// there are (a prime, so no request size lines up with it).
const OFFSETS: usize = 65521;

/// The shared send/compare buffer.
#[derive(Debug, Clone)]
pub struct Pattern {
    bytes: Vec<u8>,
    window: usize,
}

impl Pattern {
    /// A pattern for windows of `window` bytes.
    pub fn new(window: usize) -> Self {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let period: Vec<u8> = (0..OFFSETS)
            .map(|_| {
                // xorshift64*: fast, and no period of its own this short.
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect();
        // Repeated, so that every offset has a contiguous window after it.
        let bytes = period
            .iter()
            .copied()
            .cycle()
            .take(window + OFFSETS)
            .collect();
        Self { bytes, window }
    }

    /// The bytes of request `request` on connection `connection`.
    pub fn request(&self, connection: usize, request: u64) -> &[u8] {
        let offset = (connection.wrapping_mul(769) as u64).wrapping_add(request.wrapping_mul(31))
            % OFFSETS as u64;
        self.window_at(offset as usize)
    }

    /// The bytes at stream position `position` of an endless stream (bulk):
    /// up to `window` bytes, contiguous.
    pub fn stream(&self, position: u64) -> &[u8] {
        self.window_at((position % OFFSETS as u64) as usize)
    }

    fn window_at(&self, offset: usize) -> &[u8] {
        self.bytes.get(offset..offset + self.window).unwrap_or(&[])
    }
}

/// The index of the first byte where `got` differs from `want`.
pub fn first_difference(want: &[u8], got: &[u8]) -> Option<usize> {
    if want == got {
        return None;
    }
    want.iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .or(Some(want.len().min(got.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_full_windows_that_differ() {
        let pattern = Pattern::new(64);
        let a = pattern.request(0, 0);
        let b = pattern.request(1, 0);
        let c = pattern.request(0, 1);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(pattern.request(usize::MAX, u64::MAX).len(), 64);
    }

    #[test]
    fn the_stream_is_continuous() {
        let pattern = Pattern::new(100);
        let first = pattern.stream(0);
        let later = pattern.stream(50);
        assert_eq!(&first[50..], &later[..50]);
        // Wrapping around the offsets continues the same sequence.
        assert_eq!(pattern.stream(OFFSETS as u64), first);
    }

    #[test]
    fn differences_are_located() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
    }
}
