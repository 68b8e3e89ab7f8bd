//! Values indexed by a token that epoll carries: the slot in the low 32 bits,
//! the slot's generation in the high 32. A slot's generation changes each
//! time it is reused, so an event for a closed connection, still queued in
//! the batch `epoll_wait` returned, can never reach the one that took its
//! slot. The echo server's connections and sockbench's are both kept here.
//!
//! Generations count in 31 bits, so [`SPARE_BIT`] is never set in a token:
//! a caller may set it to tell a second fd of the same value apart (a
//! relay's upstream socket beside its client).

/// Never set in a token [`Slab::insert`] returns.
pub const SPARE_BIT: u64 = 1 << 63;

/// Generations wrap within 31 bits (see [`SPARE_BIT`]).
const GENERATION_MASK: u32 = u32::MAX >> 1;

/// A slab of `T` with generation tokens.
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores a value; returns its token.
    pub fn insert(&mut self, value: T) -> u64 {
        self.len += 1;
        if let Some(index) = self.free.pop()
            && let Some(slot) = self.slots.get_mut(index as usize)
        {
            slot.0 = slot.0.wrapping_add(1) & GENERATION_MASK;
            slot.1 = Some(value);
            return token(index, slot.0);
        }
        let index = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push((0, Some(value)));
        token(index, 0)
    }

    /// The value a token names, if it is still there.
    pub fn get_mut(&mut self, token: u64) -> Option<&mut T> {
        let (index, generation) = split(token);
        match self.slots.get_mut(index as usize) {
            Some((live, value)) if *live == generation => value.as_mut(),
            _ => None,
        }
    }

    /// Takes a value out; its slot is reused by a later insert.
    pub fn remove(&mut self, token: u64) -> Option<T> {
        let (index, generation) = split(token);
        let (live, value) = self.slots.get_mut(index as usize)?;
        if *live != generation {
            return None;
        }
        let value = value.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// Whether a token names a value still present.
    pub fn contains(&self, token: u64) -> bool {
        let (index, generation) = split(token);
        matches!(self.slots.get(index as usize), Some((live, Some(_))) if *live == generation)
    }

    /// Tokens of the values present.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, (_, value))| value.is_some())
            .map(|(index, (generation, _))| token(index as u32, *generation))
    }

    /// The values present, with their tokens.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut T)> + '_ {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(index, (generation, value))| {
                value
                    .as_mut()
                    .map(|value| (token(index as u32, *generation), value))
            })
    }

    /// How many values are present.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is present.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn token(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

fn split(token: u64) -> (u32, u32) {
    (token as u32, (token >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_token_never_reaches_the_slots_next_tenant() {
        let mut slab = Slab::default();
        let first = slab.insert("first");
        assert_eq!(slab.remove(first), Some("first"));
        let second = slab.insert("second");
        assert_ne!(first, second);
        assert!(slab.get_mut(first).is_none());
        assert!(!slab.contains(first) && slab.contains(second));
        assert!(slab.remove(first).is_none());
        assert_eq!(slab.get_mut(second).copied(), Some("second"));
        assert_eq!(slab.len(), 1);
        assert_eq!(slab.tokens().collect::<Vec<_>>(), vec![second]);
    }

    #[test]
    fn the_spare_bit_survives_every_generation() {
        let mut slab = Slab::default();
        let mut token = slab.insert(0);
        slab.slots[0].0 = GENERATION_MASK - 1;
        for _ in 0..4 {
            slab.remove(token);
            token = slab.insert(0);
            assert_eq!(token & SPARE_BIT, 0, "{token:#x}");
        }
    }

    #[test]
    fn tokens_keep_slot_and_generation_apart() {
        let mut slab = Slab::default();
        let tokens: Vec<u64> = (0..6).map(|n| slab.insert(n)).collect();
        assert_eq!(slab.remove(tokens[5]), Some(5));
        let reused = slab.insert(50);
        assert_eq!(reused & u64::from(u32::MAX), 5);
        assert_eq!(reused >> 32, 1);
        let values: Vec<(u64, i32)> = slab.iter_mut().map(|(t, v)| (t, *v)).collect();
        assert_eq!(values.len(), 6);
        assert_eq!(values.last(), Some(&(reused, 50)));
        assert!(!slab.is_empty());
    }
}
