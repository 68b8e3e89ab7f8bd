//! Faults: sockd as the peer that misbehaves on purpose, for testing
//! clients' timeouts, retries, reassembly and error paths.
//!
//! One module per fault, each a small transformer of a stream behind one
//! interface, [`Fault`] (the shape of toxiproxy's toxics, without its
//! daemon): it may decide what a connection does at accept ([`Fault::open`]),
//! touch each chunk as it arrives ([`Fault::arrive`]: when it may leave,
//! a flipped bit), say how much may leave now ([`Fault::admit`]), and
//! when sockd's end of the stream may follow the peer's
//! ([`Fault::finish`]). A [`Path`] is one direction of one connection: its
//! faults, its bounded [`queue::Queue`] and its random numbers. It makes
//! no syscall; the worker that owns the socket asks it what to do
//! ([`stream`] for sockd's echo). A datagram echo (`-u`) has no stream:
//! [`datagram`] runs each datagram through the same faults' `arrive`
//! (dropped, doubled, a bit flipped, delayed). A [`Plan`] is what the command line
//! asked for, shared by every worker: the faults, the share of
//! connections they touch, the seed.
//!
//! A connection the faults do not touch never reaches this module: the
//! plain echo path stays one `recv` and one `send` per event.

mod accept_delay;
mod after;
pub mod args;
mod chunk;
mod corrupt;
pub mod datagram;
mod delay;
mod drop;
mod duplicate;
mod on_accept;
pub mod queue;
mod rate;
pub mod rng;
pub mod share;
mod slow_close;
pub mod stream;
pub mod timer;

pub use args::FaultFlags;

use core::fmt::Debug;
use core::sync::atomic::{AtomicU64, Ordering};
use queue::Queue;
use rng::{Rng, Stream};
use share::Share;
use std::time::Instant;

/// How a fault ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A FIN: the peer reads to the end of what was sent, then EOF.
    Fin,
    /// An RST (`SO_LINGER` 0): the peer's next read fails with `ECONNRESET`.
    Rst,
}

/// What a connection does once accepted, before any byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fate {
    /// Bytes are read and sent back (through the faults).
    #[default]
    Serve,
    /// Never read: the peer's bytes pile up until its send buffer is full.
    Hang,
    /// Read and dropped: nothing is ever sent back.
    Blackhole,
}

/// What the faults make of a connection at accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opening {
    /// Served, hung or blackholed.
    pub fate: Fate,
    /// Ended at once.
    pub ending: Option<Ending>,
    /// Nothing flows before this time (a slow open).
    pub hold_until: Option<Instant>,
    /// Ended at this time, whatever it is doing.
    pub deadline: Option<(Instant, Ending)>,
}

/// A chunk that has just arrived (what one `recv` read, or one datagram),
/// as the faults see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Its length in bytes.
    pub len: usize,
    /// When it may leave (its arrival, unless a fault delays it).
    pub ready: Instant,
    /// A bit to flip: bit `n % 8` of byte `n / 8`.
    pub flip: Option<usize>,
    /// How many times it is passed on (0: dropped, 2: duplicated).
    pub copies: u8,
}

/// Which sockets a fault can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Connections only (TCP, unix streams).
    Streams,
    /// Datagrams only (UDP, unix datagrams).
    Datagrams,
    /// Either.
    Both,
}

/// How much the faults let leave now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// At most this many bytes, in one send, now.
    Go(usize),
    /// Nothing before this time.
    Until(Instant),
    /// Nothing ever again: the connection ends.
    End(Ending),
}

/// One fault: a stage between the bytes sockd reads and those it sends.
/// Each method has a default that does nothing, so a fault implements only
/// the moments it acts on.
pub trait Fault: Debug + Send + Sync {
    /// The flag and its value, as a command line would give them
    /// (`--delay 200:50`), for the line that logs a run's faults.
    fn flag(&self) -> String;

    /// The same fault in its initial state, for a new connection or
    /// direction.
    fn fresh(&self) -> Box<dyn Fault>;

    /// The sockets it acts on.
    fn scope(&self) -> Scope {
        Scope::Streams
    }

    /// Whether it acts on the client's connection (its opening, its end,
    /// the bytes it is sent in all), not on the bytes of each direction:
    /// a relay gives such a fault to the direction toward the client
    /// alone, whatever `--fault-dir` says.
    fn on_connection(&self) -> bool {
        false
    }

    /// At accept (`now`): may hold, end or change the connection.
    fn open(&mut self, _now: Instant, _opening: &mut Opening) {}

    /// A chunk arrived: may change when it leaves, or its bytes.
    fn arrive(&mut self, _chunk: &mut Arrival, _rng: &mut Rng) {}

    /// Of `ready` bytes free to leave (0 when none is), how many this
    /// fault lets go at `now`.
    fn admit(&mut self, _now: Instant, ready: usize) -> Admit {
        Admit::Go(ready)
    }

    /// `n` bytes left at `now`.
    fn sent(&mut self, _now: Instant, _n: usize) {}

    /// The peer's end of the stream arrived at `now`: the earliest time
    /// sockd's end may follow (`None`: as soon as the queue is empty).
    fn finish(&mut self, _now: Instant) -> Option<Instant> {
        None
    }
}

/// What a [`Path`] says to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send this many bytes of [`Path::front`] now.
    Send(usize),
    /// Nothing may leave before this time.
    Until(Instant),
    /// Nothing is waiting.
    Idle,
    /// The connection ends.
    End(Ending),
}

/// One direction of one faulted connection: its faults, the bytes that
/// wait for them, and its random numbers.
#[derive(Debug)]
pub struct Path {
    faults: Vec<Box<dyn Fault>>,
    queue: Queue,
    rng: Rng,
    /// A bit was flipped since [`Path::took_flip`] last looked (for the
    /// `corrupt` event).
    flipped: bool,
}

impl Path {
    /// No fault: bytes leave as soon as they come, through the bounded
    /// queue (a relay's direction that the transcript sees).
    pub fn plain(now: Instant) -> Self {
        Self {
            faults: Vec::new(),
            queue: Queue::new(now),
            rng: Rng::new(0),
            flipped: false,
        }
    }

    /// At accept: what the faults make of the connection.
    pub fn open(&mut self, now: Instant) -> Opening {
        let mut opening = Opening::default();
        for fault in &mut self.faults {
            fault.open(now, &mut opening);
        }
        opening
    }

    /// How many more bytes may be read into the queue.
    pub fn room(&self) -> usize {
        self.queue.room()
    }

    /// Whether no byte waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Bytes read at `now` join the queue, as the faults have them; at most
    /// [`Path::room`] are taken (returned).
    pub fn push(&mut self, data: &[u8], now: Instant) -> usize {
        let data = &data[..data.len().min(self.room())];
        let mut chunk = Arrival {
            len: data.len(),
            ready: now,
            flip: None,
            copies: 1,
        };
        for fault in &mut self.faults {
            fault.arrive(&mut chunk, &mut self.rng);
        }
        let mut taken = 0;
        for _ in 0..chunk.copies {
            if self.queue.room() < data.len() {
                break;
            }
            taken = self.queue.push(data, chunk.ready);
            if let Some(bit) = chunk.flip {
                self.queue.flip_last(data.len(), bit);
                self.flipped = true;
            }
        }
        if chunk.copies == 0 { data.len() } else { taken }
    }

    /// What to do at `now`, sending at most `most` bytes at once.
    pub fn next(&mut self, now: Instant, most: usize) -> Step {
        let (ready, later) = self.queue.ready(now, most);
        let mut admitted = ready.min(most);
        let mut wait: Option<Instant> = None;
        for fault in &mut self.faults {
            match fault.admit(now, admitted) {
                Admit::Go(n) => admitted = admitted.min(n),
                Admit::Until(at) => wait = Some(wait.map_or(at, |w| w.max(at))),
                Admit::End(ending) => return Step::End(ending),
            }
        }
        match (ready, wait, later) {
            (0, _, Some(at)) => Step::Until(at),
            (0, _, None) => Step::Idle,
            (_, Some(at), _) => Step::Until(at),
            _ if admitted == 0 => Step::Idle,
            _ => Step::Send(admitted),
        }
    }

    /// Up to `n` bytes from the front of the queue, in one slice.
    pub fn front(&self, n: usize) -> &[u8] {
        self.queue.front(n)
    }

    /// `n` bytes of the front were sent at `now`.
    pub fn sent(&mut self, now: Instant, n: usize) {
        self.queue.consume(n);
        for fault in &mut self.faults {
            fault.sent(now, n);
        }
    }

    /// The peer's end of the stream arrived at `now`: the earliest time
    /// the other end may be closed, once the queue is empty.
    pub fn finish(&mut self, now: Instant) -> Instant {
        self.faults
            .iter_mut()
            .filter_map(|fault| fault.finish(now))
            .fold(now, Instant::max)
    }

    /// Whether a chunk had a bit flipped since the last call.
    pub fn took_flip(&mut self) -> bool {
        core::mem::take(&mut self.flipped)
    }

    /// Drops what waits (the connection ends).
    pub fn clear(&mut self) {
        self.queue.clear();
    }
}

/// The faults the command line asked for, shared by every worker.
#[derive(Debug)]
pub struct Plan {
    faults: Vec<Box<dyn Fault>>,
    share: Share,
    next_ordinal: AtomicU64,
}

impl Plan {
    /// `faults` for the share `share` (0 to 1) of connections, drawn from
    /// `seed`.
    pub fn new(faults: Vec<Box<dyn Fault>>, share: f64, seed: u64) -> Self {
        Self {
            faults,
            share: Share { share, seed },
            next_ordinal: AtomicU64::new(0),
        }
    }

    /// The flags that replay this run's faults, seed included
    /// (`--delay 200 --fault-share 0.5 --seed 7`).
    pub fn describe(&self) -> String {
        let mut words: Vec<String> = self.faults.iter().map(|fault| fault.flag()).collect();
        if self.share.share < 1.0 {
            words.push(format!("--fault-share {}", self.share.share));
        }
        words.push(format!("--seed {}", self.share.seed));
        words.join(" ")
    }

    /// The flag of the first fault that cannot act on this kind of socket
    /// (`datagrams`: UDP or unix datagrams), if any.
    pub fn misfit(&self, datagrams: bool) -> Option<String> {
        let wrong = if datagrams {
            Scope::Streams
        } else {
            Scope::Datagrams
        };
        self.faults
            .iter()
            .find(|fault| fault.scope() == wrong)
            .map(|fault| fault.flag())
    }

    /// Counts one more connection (or datagram): its ordinal, if the faults
    /// touch it. Ordinals follow the order of accepts across every worker.
    pub fn pick(&self) -> Option<u64> {
        let ordinal = self.next_ordinal.fetch_add(1, Ordering::Relaxed);
        self.share.picks(ordinal).then_some(ordinal)
    }

    /// The faults for item `ordinal`, direction `stream`, from `now` on.
    pub fn path(&self, ordinal: u64, stream: Stream, now: Instant) -> Path {
        self.path_of(ordinal, stream, now, |_| true)
    }

    /// A relay's two directions for connection `ordinal` (up: client to
    /// upstream; down: upstream to client): the faults on bytes in the
    /// directions `up` and `down` say, and the faults on the client's
    /// connection in the down one.
    pub fn relay_paths(&self, ordinal: u64, up: bool, down: bool, now: Instant) -> (Path, Path) {
        let up_path = self.path_of(ordinal, Stream::Up, now, |fault| {
            up && !fault.on_connection()
        });
        let down_path = self.path_of(ordinal, Stream::Down, now, |fault| {
            fault.on_connection() || down
        });
        (up_path, down_path)
    }

    fn path_of(
        &self,
        ordinal: u64,
        stream: Stream,
        now: Instant,
        keep: impl Fn(&dyn Fault) -> bool,
    ) -> Path {
        Path {
            faults: self
                .faults
                .iter()
                .filter(|fault| keep(fault.as_ref()))
                .map(|fault| fault.fresh())
                .collect(),
            queue: Queue::new(now),
            rng: Rng::for_item(self.share.seed, ordinal, stream),
            flipped: false,
        }
    }
}

/// A whole number of milliseconds, as the flags take them.
fn millis(duration: core::time::Duration) -> u128 {
    duration.as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn path(faults: Vec<Box<dyn Fault>>, now: Instant) -> Path {
        Plan::new(faults, 1.0, 7).path(0, Stream::Down, now)
    }

    #[test]
    fn without_faults_a_path_sends_what_it_was_given_at_once() {
        let now = Instant::now();
        let mut path = path(Vec::new(), now);
        assert_eq!(path.open(now), Opening::default());
        assert_eq!(path.next(now, 100), Step::Idle);
        assert_eq!(path.push(b"hello", now), 5);
        assert_eq!(path.next(now, 100), Step::Send(5));
        assert_eq!(path.next(now, 3), Step::Send(3));
        assert_eq!(path.front(3), b"hel");
        path.sent(now, 3);
        assert_eq!(path.front(9), b"lo");
        path.sent(now, 2);
        assert!(path.is_empty());
        assert_eq!(path.finish(now), now);
    }

    #[test]
    fn the_plan_logs_the_flags_that_replay_it() {
        let faults: Vec<Box<dyn Fault>> = vec![
            Box::new(delay::Delay::new(
                Duration::from_millis(200),
                Duration::ZERO,
            )),
            Box::new(corrupt::Corrupt::new(0.25)),
        ];
        let plan = Plan::new(faults, 0.5, 7);
        assert_eq!(
            plan.describe(),
            "--delay 200 --corrupt 0.25 --fault-share 0.5 --seed 7"
        );
        let all = Plan::new(Vec::new(), 1.0, 9);
        assert_eq!(all.describe(), "--seed 9");
        assert_eq!((all.pick(), all.pick()), (Some(0), Some(1)));
    }
}
