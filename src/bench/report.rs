//! What a run prints: a short table, or one JSON object (`--json`), on
//! stdout; a progress line on stderr while it runs, only when stderr is a
//! terminal.

use super::stats::Tally;
use super::{Mode, Outcome};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The live progress line on stderr.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    mode: Mode,
    start: Instant,
    last: Instant,
    last_requests: u64,
    last_bytes: u64,
    drawn: bool,
}

impl Progress {
    /// A progress line for `mode`, drawn only when `enabled` (stderr is a
    /// terminal).
    pub fn new(mode: Mode, enabled: bool) -> Self {
        let now = Instant::now();
        Self {
            enabled,
            mode,
            start: now,
            last: now,
            last_requests: 0,
            last_bytes: 0,
            drawn: false,
        }
    }

    /// Redraws the line if a second has passed since the last time.
    pub fn tick(&mut self, tally: &Tally) {
        if !self.enabled || self.last.elapsed() < PROGRESS_EVERY {
            return;
        }
        let now = Instant::now();
        let span = now.duration_since(self.last).as_secs_f64().max(1e-9);
        let rate = match self.mode {
            Mode::Bulk => format!(
                "{:.1} MB/s",
                (tally.bytes - self.last_bytes) as f64 / span / 1e6
            ),
            _ => format!(
                "{:.0} req/s",
                (tally.requests - self.last_requests) as f64 / span
            ),
        };
        eprint!(
            "\rsockbench: {} {:.0}s  {rate}  errors {}  wrong {}\x1b[K",
            self.mode.name(),
            now.duration_since(self.start).as_secs_f64(),
            tally.error_count(),
            tally.corrupt,
        );
        self.drawn = true;
        self.last = now;
        self.last_requests = tally.requests;
        self.last_bytes = tally.bytes;
    }

    /// Erases the line, so the results start on a clean one.
    pub fn finish(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            self.drawn = false;
        }
    }
}

fn micros(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e7).round() / 10.0
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// The run as one JSON object; the fields are documented in
/// [`crate::bench`].
pub fn json(outcome: &Outcome) -> Value {
    let tally = &outcome.tally;
    let options = &outcome.options;
    let bulk = options.mode == Mode::Bulk;
    let latency = if bulk || tally.latency.count() == 0 {
        Value::Null
    } else {
        json!({
            "p50": micros(tally.latency.quantile(0.50)),
            "p99": micros(tally.latency.quantile(0.99)),
            "max": micros(tally.latency.max()),
            "mean": micros(tally.latency.mean()),
        })
    };
    let first = tally.first_corruption.map(|c| {
        json!({
            "connection": c.connection,
            "request": c.request,
            "offset": c.offset,
            "expected": c.expected,
            "got": c.got,
        })
    });
    let datagram = |count: u64| {
        if options.is_datagram() {
            json!(count)
        } else {
            Value::Null
        }
    };
    json!({
        "mode": options.mode.name(),
        "transport": options.target.transport().name(),
        "target": options.target.to_string(),
        "connections": if bulk { 1 } else { options.connections },
        "threads": options.threads.min(options.connections).max(1),
        "size": if bulk { Value::Null } else { json!(options.size) },
        "seconds": (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "requests": if bulk { Value::Null } else { json!(tally.requests) },
        "requests_per_sec": if bulk {
            Value::Null
        } else {
            json!((per_second(tally.requests, outcome.elapsed) * 10.0).round() / 10.0)
        },
        "connects": tally.connects,
        "bytes": tally.bytes,
        "mb_per_sec": (per_second(tally.bytes, outcome.elapsed) / 1e4).round() / 100.0,
        "latency_us": latency,
        "errors": tally.errors,
        "client_cpu_percent": client_cpu_percent(outcome),
        "corrupt": tally.corrupt,
        "lost": datagram(tally.lost),
        "late": datagram(tally.late),
        "first_corrupt": first,
    })
}

/// sockbench's CPU use over the run as a percentage of one core, one decimal.
/// The CPU time covers the final drain too, so this errs high, never low.
fn client_cpu_percent(outcome: &Outcome) -> Option<f64> {
    let cpu = outcome.client_cpu?;
    let secs = outcome.elapsed.as_secs_f64();
    (secs > 0.0).then(|| (cpu.as_secs_f64() / secs * 1000.0).round() / 10.0)
}

/// The run as a few aligned lines.
pub fn text(outcome: &Outcome) -> String {
    let tally = &outcome.tally;
    let options = &outcome.options;
    let elapsed = outcome.elapsed;
    let mut out = String::new();
    let plural = if options.connections == 1 { "" } else { "s" };
    let what = match options.mode {
        Mode::PingPong if options.is_datagram() => format!(
            "{} sockets, {} B datagrams, one in flight on each",
            options.connections, options.size
        ),
        Mode::PingPong => format!(
            "{} connection{plural}, {} B requests",
            options.connections, options.size
        ),
        Mode::Churn => format!(
            "{} concurrent, {} B requests, one connection each",
            options.connections, options.size
        ),
        Mode::Bulk => "1 connection, streaming both ways".to_string(),
        Mode::Hold => format!(
            "{} connection{plural} held, {} B requests, one echo each before and after idling",
            options.connections, options.size
        ),
    };
    let _ = writeln!(
        out,
        "{} {} {}: {what}, {:.2} s",
        options.mode.name(),
        options.target.transport().name(),
        options.target,
        elapsed.as_secs_f64()
    );
    if options.mode != Mode::Bulk {
        let _ = writeln!(
            out,
            "requests   {:>12}  {:.1}/s",
            tally.requests,
            per_second(tally.requests, elapsed)
        );
    }
    let _ = writeln!(
        out,
        "echoed     {:>12}  {:.2} MB/s (compared byte for byte)",
        tally.bytes,
        per_second(tally.bytes, elapsed) / 1e6
    );
    if options.mode == Mode::Churn {
        let _ = writeln!(
            out,
            "connects   {:>12}  {:.1}/s",
            tally.connects,
            per_second(tally.connects, elapsed)
        );
    }
    if options.mode != Mode::Bulk && tally.latency.count() > 0 {
        let _ = writeln!(
            out,
            "latency    p50 {:.1} us  p99 {:.1} us  max {:.1} us",
            micros(tally.latency.quantile(0.50)),
            micros(tally.latency.quantile(0.99)),
            micros(tally.latency.max()),
        );
    }
    let errors = if tally.errors.is_empty() {
        "none".to_string()
    } else {
        tally
            .errors
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "errors     {errors}");
    let _ = writeln!(out, "wrong      {}", tally.corrupt);
    if options.is_datagram() {
        let _ = writeln!(
            out,
            "lost       {:>12}  (no echo within {:.3} s; the next request went out)",
            tally.lost,
            options.lost_after.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "late       {:>12}  (echoes of a request already lost or answered)",
            tally.late
        );
    }
    if let Some(percent) = client_cpu_percent(outcome) {
        let _ = writeln!(out, "client CPU {percent:.0} % of a core");
    }
    out
}

/// The one-line complaint when echoed bytes differed (stderr).
pub fn corruption_message(outcome: &Outcome) -> Option<String> {
    let tally = &outcome.tally;
    if tally.corrupt == 0 {
        return None;
    }
    let unit = if outcome.options.mode == Mode::Bulk {
        "reads"
    } else {
        "requests"
    };
    let mut message = format!(
        "echo from {} differed from what was sent: {} {unit} wrong",
        outcome.options.target, tally.corrupt
    );
    if let Some(first) = tally.first_corruption {
        let sent = first.expected.map_or_else(
            || "nothing more".to_string(),
            |byte| format!("0x{byte:02x}"),
        );
        let _ = write!(
            message,
            "; first at byte {} of request {} on connection {} (sent {sent}, got 0x{:02x})",
            first.offset, first.request, first.connection, first.got
        );
    }
    Some(message)
}
