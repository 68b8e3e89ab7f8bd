//! Deterministic noise for the parsers' never-panic tests: no extra
//! dependency, and a failure is reproducible from its seed.

/// Up to ~600 bytes from `seed`: mostly drawn from `alphabet` (so the
/// parsers get past their first checks), some fully random.
pub fn garbage(seed: u64, alphabet: &[u8]) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let len = (next() % 600) as usize;
    (0..len)
        .map(|_| {
            let r = next();
            if r % 4 == 0 || alphabet.is_empty() {
                (r >> 8) as u8
            } else {
                alphabet[(r >> 8) as usize % alphabet.len()]
            }
        })
        .collect()
}

/// `base` with a few bytes overwritten, inserted or cut, chosen by `seed`:
/// input that gets past the first checks and breaks a later one.
pub fn mutate(seed: u64, base: &[u8]) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0xD134_2543_DE82_EF95) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = base.to_vec();
    for _ in 0..=next() % 4 {
        let at = if out.is_empty() {
            0
        } else {
            (next() % out.len() as u64) as usize
        };
        let byte = match next() % 4 {
            0 => 0,
            1 => 0xff,
            _ => next() as u8,
        };
        match next() % 5 {
            0 => out.insert(at, byte),
            1 => out.truncate(at),
            _ => {
                if let Some(slot) = out.get_mut(at) {
                    *slot = byte;
                }
            }
        }
    }
    out
}
