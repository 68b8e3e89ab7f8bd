//! Output written a chunk at a time: a listing of 20,000 rows is megabytes
//! of text, never held whole beside the rows it is made of.

use crate::error::Result;

/// Bytes gathered before they are handed on.
const CHUNK: usize = 64 * 1024;

/// Text gathered for a sink (stdout), handed on each time it passes
/// [`CHUNK`] bytes and at the end. Bytes, not a `String`: what is written
/// is escaped text already, and numbers go in without a UTF-8 check.
pub struct Chunked<'a> {
    text: Vec<u8>,
    sink: &'a mut dyn FnMut(&[u8]) -> Result<()>,
}

impl<'a> Chunked<'a> {
    /// Nothing gathered yet for `sink`.
    pub fn new(sink: &'a mut dyn FnMut(&[u8]) -> Result<()>) -> Self {
        Self {
            text: Vec::with_capacity(CHUNK + 4096),
            sink,
        }
    }

    /// Where to write the next piece.
    pub fn text(&mut self) -> &mut Vec<u8> {
        &mut self.text
    }

    /// Hands on what is gathered, if it is a chunk's worth.
    ///
    /// # Errors
    /// The sink's.
    pub fn flush_if_full(&mut self) -> Result<()> {
        if self.text.len() >= CHUNK {
            (self.sink)(&self.text)?;
            self.text.clear();
        }
        Ok(())
    }

    /// Hands on the rest.
    ///
    /// # Errors
    /// The sink's.
    pub fn finish(self) -> Result<()> {
        (self.sink)(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_arrive_whole_and_in_order() {
        let mut got = Vec::new();
        let mut sink = |part: &[u8]| {
            got.push(part.len());
            Ok(())
        };
        let mut out = Chunked::new(&mut sink);
        for _ in 0..3 * CHUNK / 1000 {
            out.text().extend_from_slice(&[b'x'; 1000]);
            let _ = out.flush_if_full();
        }
        let _ = out.finish();
        assert!(got.len() >= 3, "{got:?}");
        assert_eq!(got.iter().sum::<usize>(), 3 * CHUNK / 1000 * 1000);
        assert!(
            got[..got.len() - 1]
                .iter()
                .all(|&n| (CHUNK..CHUNK + 1000).contains(&n))
        );
    }

    #[test]
    fn the_first_failure_ends_it() {
        let mut calls = 0;
        let mut sink = |_: &[u8]| {
            calls += 1;
            Err(crate::error::Error::StdoutClosed)
        };
        let mut out = Chunked::new(&mut sink);
        out.text().extend_from_slice(&[b'y'; CHUNK]);
        assert!(matches!(
            out.flush_if_full(),
            Err(crate::error::Error::StdoutClosed)
        ));
        drop(out);
        assert_eq!(calls, 1);
    }
}
