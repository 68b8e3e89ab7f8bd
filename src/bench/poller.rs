//! One epoll instance, edge-triggered, and the run's clock: waits never
//! outlast the deadline, and wake every `TICK` for the progress line.

use crate::error::{Error, Result};
use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use std::time::{Duration, Instant};

/// How many readiness events one `epoll_wait` may return.
const BATCH: usize = 256;

/// The readiness a connection is registered for: both directions, edge
/// triggered, so that no `epoll_ctl` is needed per request.
pub const INTEREST: EventFlags = EventFlags::IN
    .union(EventFlags::OUT)
    .union(EventFlags::RDHUP)
    .union(EventFlags::ET);

/// An epoll instance and its event buffer.
pub struct Poller {
    epoll: OwnedFd,
    events: Vec<Event>,
}

impl Poller {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    ///
    /// # Errors
    /// `EMFILE`, `ENFILE`, `ENOMEM`.
    pub fn new() -> Result<Self> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)
            .map_err(|e| Error::on("epoll_create", "epoll", e))?;
        Ok(Self {
            epoll,
            events: Vec::with_capacity(BATCH),
        })
    }

    /// `epoll_ctl(EPOLL_CTL_ADD)` with [`INTEREST`] and `token` as the data.
    ///
    /// # Errors
    /// `ENOMEM`, `ENOSPC` (`max_user_watches`).
    pub fn add(&self, fd: impl AsFd, token: u64) -> core::result::Result<(), Errno> {
        epoll::add(&self.epoll, fd, EventData::new_u64(token), INTEREST)
    }

    /// `epoll_wait` until an event, `until`, or at most `tick` from now;
    /// returns how many events [`Poller::events`] gives. `EINTR` is zero.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL`: only if the epoll fd itself is broken.
    pub fn wait(&mut self, until: Instant, tick: Duration) -> Result<usize> {
        let left = until.saturating_duration_since(Instant::now()).min(tick);
        crate::io::epoll_wait(&self.epoll, &mut self.events, Some(left))
            .map_err(|errno| Error::on("epoll_wait", "epoll", errno))?;
        Ok(self.events.len())
    }

    /// The token and readiness of each event of the last [`Poller::wait`].
    pub fn events(&self) -> impl Iterator<Item = (u64, EventFlags)> + '_ {
        self.events.iter().map(|event| {
            let Event { flags, data } = *event;
            (data.u64(), flags)
        })
    }
}
