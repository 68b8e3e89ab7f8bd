//! sockd's fault flags (clap's definitions, flattened into sockd's own, so
//! `--help`, the man page and the parsers agree) and the parsers of their
//! values: a bad value is a usage error (exit 64, one line).

use super::after::{After, Limit};
use super::on_accept::OnAccept;
use super::{Ending, Fault, Plan};
use crate::error::{Error, Result};
use core::time::Duration;

/// The faults, and which connections they touch.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FaultFlags {
    /// The faults themselves.
    #[command(flatten)]
    pub faults: Faults,
    /// Fault only a share P (0-1) of connections (-u: datagrams), picked by --seed
    #[arg(long, value_name = "P", value_parser = parse_share)]
    pub fault_share: Option<f64>,
    /// Seed of the faults' draws, to replay a run (random if not given; logged)
    #[arg(long, value_name = "N", value_parser = parse_seed)]
    pub seed: Option<u64>,
}

/// Each fault flag; none given: the plain echo.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Faults {
    /// Each chunk (-u: datagram) comes back MS (± JITTER, uniform) ms late; streams keep order
    #[arg(long, value_name = "MS[:JITTER]", value_parser = parse_delay, conflicts_with = "chat")]
    pub delay: Option<(Duration, Duration)>,
    /// At most BYTES per second per connection (K = 1024, M = 1024²)
    #[arg(long, value_name = "BYTES", value_parser = parse_rate, conflicts_with_all = ["chat", "udp"])]
    pub rate: Option<u64>,
    /// Replies in pieces of at most N bytes, each its own send, MS ms apart
    #[arg(long, value_name = "N[:MS]", value_parser = parse_chunk, conflicts_with_all = ["chat", "udp"])]
    pub chunk: Option<(usize, Duration)>,
    /// A FIN once exactly BYTES were sent back, or SECS after accept (5s, 0.5s)
    #[arg(long, value_name = "BYTES|SECSs", value_parser = parse_limit, conflicts_with_all = ["chat", "udp"])]
    pub close_after: Option<Limit>,
    /// An RST (SO_LINGER 0) once exactly BYTES were sent back, or SECS after accept
    #[arg(long, value_name = "BYTES|SECSs", value_parser = parse_limit, conflicts_with_all = ["chat", "udp"])]
    pub reset_after: Option<Limit>,
    /// Accept, then let nothing flow for MS ms (a slow open)
    #[arg(long, value_name = "MS", value_parser = parse_ms, conflicts_with_all = ["chat", "udp"])]
    pub accept_delay: Option<Duration>,
    /// At accept: close (FIN), reset (RST), hang (never read), blackhole (read, never answer)
    #[arg(
        long,
        value_name = "MODE",
        value_enum,
        hide_possible_values = true,
        conflicts_with_all = ["chat", "udp"]
    )]
    pub on_accept: Option<OnAccept>,
    /// Send sockd's FIN MS ms after the client's
    #[arg(long, value_name = "MS", value_parser = parse_ms, conflicts_with_all = ["chat", "udp"])]
    pub slow_close: Option<Duration>,
    /// Flip one bit in a share P (0-1) of chunks (-u: datagrams)
    #[arg(long, value_name = "P", value_parser = parse_share, conflicts_with = "chat")]
    pub corrupt: Option<f64>,
    /// Drop a share P (0-1) of datagrams (-u); after a loss, the next with P + CORR × (1 − P)
    #[arg(long, value_name = "P[:CORR]", value_parser = parse_drop, conflicts_with = "chat")]
    pub drop: Option<(f64, f64)>,
    /// Echo a share P (0-1) of datagrams twice (-u)
    #[arg(long, value_name = "P", value_parser = parse_share, conflicts_with = "chat")]
    pub duplicate: Option<f64>,
}

impl Faults {
    /// The faults asked for, in a fixed order (as `--help` lists them).
    fn list(&self) -> Vec<Box<dyn Fault>> {
        let mut faults: Vec<Box<dyn Fault>> = Vec::new();
        if let Some(mode) = self.on_accept {
            faults.push(Box::new(mode));
        }
        if let Some(delay) = self.accept_delay {
            faults.push(Box::new(super::accept_delay::AcceptDelay::new(delay)));
        }
        if let Some((delay, jitter)) = self.delay {
            faults.push(Box::new(super::delay::Delay::new(delay, jitter)));
        }
        if let Some(share) = self.corrupt {
            faults.push(Box::new(super::corrupt::Corrupt::new(share)));
        }
        if let Some(rate) = self.rate {
            faults.push(Box::new(super::rate::Rate::new(rate)));
        }
        if let Some((size, gap)) = self.chunk {
            faults.push(Box::new(super::chunk::Chunk::new(size, gap)));
        }
        if let Some(limit) = self.close_after {
            faults.push(Box::new(After::new(limit, Ending::Fin)));
        }
        if let Some(limit) = self.reset_after {
            faults.push(Box::new(After::new(limit, Ending::Rst)));
        }
        if let Some(delay) = self.slow_close {
            faults.push(Box::new(super::slow_close::SlowClose::new(delay)));
        }
        // The loss before the duplicate: a datagram dropped stays dropped.
        if let Some((share, correlation)) = self.drop {
            faults.push(Box::new(super::drop::Loss::new(share, correlation)));
        }
        if let Some(share) = self.duplicate {
            faults.push(Box::new(super::duplicate::Duplicate::new(share)));
        }
        faults
    }
}

impl FaultFlags {
    /// The plan these flags ask for (`None`: no fault), with `--seed` or a
    /// seed from `getrandom`.
    ///
    /// # Errors
    /// [`Error::Usage`] for `--fault-share` or `--seed` without a fault;
    /// `getrandom` failing (`ENOSYS` before Linux 3.17) when no seed is given.
    pub fn plan(&self) -> Result<Option<Plan>> {
        let faults = self.faults.list();
        if faults.is_empty() {
            let alone = match (self.fault_share, self.seed) {
                (Some(_), _) => "--fault-share",
                (None, Some(_)) => "--seed",
                (None, None) => return Ok(None),
            };
            return Err(Error::Usage(format!(
                "{alone} needs a fault to apply (--delay, --rate, --chunk, \
                 --close-after, --reset-after, --accept-delay, --on-accept, --slow-close, --corrupt, \
                 --drop, --duplicate)"
            )));
        }
        let seed = match self.seed {
            Some(seed) => seed,
            None => {
                let mut bytes = [0u8; 8];
                crate::io::random_bytes(&mut bytes)
                    .map_err(|errno| Error::on("getrandom", "--seed", errno))?;
                u64::from_le_bytes(bytes)
            }
        };
        Ok(Some(Plan::new(
            faults,
            self.fault_share.unwrap_or(1.0),
            seed,
        )))
    }
}

/// The longest time a fault flag takes: a year, as for every duration.
const MOST_MS: u64 = 365 * 24 * 3600 * 1000;

/// Whole milliseconds, 0 to a year.
fn parse_ms(text: &str) -> core::result::Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(ms) if ms <= MOST_MS => Ok(Duration::from_millis(ms)),
        Ok(_) => Err(format!("expected at most a year ({MOST_MS} ms)")),
        Err(_) => Err("expected whole milliseconds (0 or more)".to_string()),
    }
}

/// `MS` or `MS:JITTER`, the jitter at most the delay.
fn parse_delay(text: &str) -> core::result::Result<(Duration, Duration), String> {
    let (delay, jitter) = match text.split_once(':') {
        Some((delay, jitter)) => (parse_ms(delay)?, parse_ms(jitter)?),
        None => (parse_ms(text)?, Duration::ZERO),
    };
    if jitter > delay {
        return Err("expected a jitter no larger than the delay".to_string());
    }
    Ok((delay, jitter))
}

/// `N` or `N:MS`, N at least 1 byte.
fn parse_chunk(text: &str) -> core::result::Result<(usize, Duration), String> {
    let (size, gap) = match text.split_once(':') {
        Some((size, gap)) => (size, parse_ms(gap)?),
        None => (text, Duration::ZERO),
    };
    match parse_bytes(size)? {
        0 => Err("expected pieces of at least 1 byte".to_string()),
        size => Ok((usize::try_from(size).unwrap_or(usize::MAX), gap)),
    }
}

/// A byte count, `K` = 1024 and `M` = 1024² allowed (`100K`).
fn parse_bytes(text: &str) -> core::result::Result<u64, String> {
    let (digits, unit) = match text.as_bytes().last() {
        Some(b'K') => (&text[..text.len() - 1], 1024),
        Some(b'M') => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    let bad = || "expected a number of bytes (K = 1024, M = 1024²)".to_string();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(bad)
}

/// Bytes per second, at least 1.
fn parse_rate(text: &str) -> core::result::Result<u64, String> {
    match parse_bytes(text)? {
        0 => Err("expected at least 1 byte per second".to_string()),
        rate => Ok(rate),
    }
}

/// `BYTES` (`1000`, `64K`) or `SECSs` (`5s`, `0.5s`).
fn parse_limit(text: &str) -> core::result::Result<Limit, String> {
    match text.strip_suffix('s') {
        Some(secs) => crate::cli::parse_secs(secs).map(Limit::Time),
        None => parse_bytes(text).map(Limit::Bytes),
    }
}

/// `P` or `P:CORR`, both shares from 0 to 1.
fn parse_drop(text: &str) -> core::result::Result<(f64, f64), String> {
    match text.split_once(':') {
        Some((share, correlation)) => Ok((parse_share(share)?, parse_share(correlation)?)),
        None => Ok((parse_share(text)?, 0.0)),
    }
}

/// Any 64-bit unsigned number.
fn parse_seed(text: &str) -> core::result::Result<u64, String> {
    text.parse()
        .map_err(|_| format!("expected a whole number from 0 to {}", u64::MAX))
}

/// A share from 0 to 1.
fn parse_share(text: &str) -> core::result::Result<f64, String> {
    match text.parse::<f64>() {
        // `+ 0.0`: "-0" is 0, not a share logged as "-0".
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share + 0.0),
        _ => Err("expected a share from 0 to 1".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values_parse() {
        let ms = Duration::from_millis;
        assert_eq!(parse_delay("200"), Ok((ms(200), ms(0))));
        assert_eq!(parse_delay("100:50"), Ok((ms(100), ms(50))));
        assert_eq!(parse_rate("100K"), Ok(102_400));
        assert_eq!(parse_rate("2M"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert_eq!(parse_chunk("10:20"), Ok((10, ms(20))));
        assert_eq!(parse_chunk("1K"), Ok((1024, ms(0))));
        assert_eq!(parse_limit("1000"), Ok(Limit::Bytes(1000)));
        assert_eq!(parse_limit("0"), Ok(Limit::Bytes(0)));
        assert_eq!(parse_limit("1s"), Ok(Limit::Time(Duration::from_secs(1))));
        assert_eq!(parse_limit("0.5s"), Ok(Limit::Time(ms(500))));
        assert_eq!(parse_ms("0"), Ok(ms(0)));
        assert_eq!(parse_share("0.5"), Ok(0.5));
        assert_eq!(parse_share("1"), Ok(1.0));
        assert_eq!(parse_share("0"), Ok(0.0));
        assert_eq!(parse_drop("0.5"), Ok((0.5, 0.0)));
        assert_eq!(parse_drop("0.1:0.8"), Ok((0.1, 0.8)));
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        for bad in [
            "",
            "-1",
            "1.5",
            "x",
            "1e3",
            "31536000001",
            "200:",
            ":50",
            "100:150",
            "1:2:3",
        ] {
            assert!(parse_delay(bad).is_err(), "--delay {bad:?}");
        }
        for bad in [
            "0",
            "",
            "K",
            "1KK",
            "1k",
            "1G",
            "-5",
            "1.5K",
            "18446744073709551615K",
            "+1",
        ] {
            assert!(parse_rate(bad).is_err(), "--rate {bad:?}");
        }
        for bad in ["0", "0:10", "10:", "10:-1", "-10"] {
            assert!(parse_chunk(bad).is_err(), "--chunk {bad:?}");
        }
        for bad in [
            "", "s", "0s", "-1s", "1ms", "1 s", "nans", "infs", "1e400s", "x",
        ] {
            assert!(parse_limit(bad).is_err(), "--close-after {bad:?}");
        }
        for bad in ["-0.1", "1.01", "nan", "inf", "", "50%"] {
            assert!(parse_share(bad).is_err(), "--corrupt {bad:?}");
        }
        for bad in [
            "",
            ":",
            "0.5:",
            ":0.5",
            "0.1:1.5",
            "2",
            "0.1:0.2:0.3",
            "-0.1:0",
        ] {
            assert!(parse_drop(bad).is_err(), "--drop {bad:?}");
        }
        assert_eq!(
            parse_delay("100:150"),
            Err("expected a jitter no larger than the delay".to_string())
        );
    }
}
