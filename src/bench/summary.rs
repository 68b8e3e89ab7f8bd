//! `sockbench report`: the tables `scripts/bench.sh` prints, from the runs it
//! recorded as JSON lines.
//!
//! A load run's line: `{"round": 1, "load": "pingpong1", "server": "sockd",
//! "server_cpu_us": 81234, "run": {…}}`, where `run` is sockbench's `--json`
//! object (`null` when it printed none). A hold run's line (`--hold`):
//! `{"server": "sockd", "connections": 10000, "rss_before_kib": 4000,
//! "rss_peak_kib": 9000, "run": {…}}`.
//!
//! The load table has a row per load and server, in the order they first
//! appear: the median over the rounds of the rate (requests/s; bulk: MB/s),
//! its noise (half the range of the rounds, relative to the median), the
//! ratio to sockd taken within each round and then the median of those (the
//! rounds drift: one round ran every server at 15k req/s, the next at 62k),
//! the median p99, the server's CPU time per request (bulk: per MB) and its
//! ratio to sockd the same way, sockbench's own CPU, and every error seen
//! (datagram loads: and the requests lost, and echoes come late).

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

/// The server the ratios are taken to.
const BASELINE: &str = "sockd";

/// What one load run measured.
#[derive(Debug, Clone, PartialEq)]
struct LoadRun {
    round: String,
    load: String,
    server: String,
    /// Requests per second (bulk: MB per second); 0 when the run printed
    /// nothing.
    rate: f64,
    p99_us: Option<f64>,
    /// The server's CPU time over the run, per unit of work (request, MB);
    /// `None` when no work was done.
    cpu_per_work: Option<f64>,
    /// `ECONNRESET:2 EOF:1`, or empty.
    errors: String,
    client_cpu_percent: Option<f64>,
}

/// Prints the load table (or with `hold` the hold table) from the JSON lines
/// in `path`.
///
/// # Errors
/// The file cannot be read ([`Error::Os`]) or a line is not a record
/// ([`Error::Usage`] naming the line); a failed write to stdout.
pub fn print(path: &Path, hold: bool) -> Result<()> {
    let shown = path.display().to_string();
    let c_path = std::ffi::CString::new(shown.as_str())
        .map_err(|_| Error::Usage(format!("{shown}: a path with a NUL byte")))?;
    let bytes = crate::io::read_to_end_at(rustix::fs::CWD, &c_path, 64 * 1024)
        .map_err(|errno| Error::on("read", &shown, errno))?;
    let text = String::from_utf8_lossy(&bytes);
    let records = records(&text).map_err(|(line, why)| {
        Error::Usage(format!("{shown}:{line}: not a bench.sh record: {why}"))
    })?;
    let table = if hold {
        hold_table(&records)
    } else {
        let runs: Vec<LoadRun> = records.iter().map(load_run).collect();
        load_table(&runs)
    };
    crate::io::write_stdout(table.as_bytes())
}

/// The JSON objects of the non-empty lines; the first bad line's number and
/// what is wrong with it.
fn records(text: &str) -> core::result::Result<Vec<Value>, (usize, String)> {
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => records.push(value),
            Ok(_) => return Err((index + 1, "not an object".to_string())),
            Err(err) => return Err((index + 1, err.to_string())),
        }
    }
    Ok(records)
}

/// A field as text: strings as they are, numbers as JSON writes them.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A run's errors as `NAME:COUNT` words, then a datagram load's `lost:N`
/// and `late:N` when there were any.
fn errors(run: &Value) -> String {
    let mut words: Vec<String> = run["errors"]
        .as_object()
        .map(|errors| {
            errors
                .iter()
                .map(|(name, count)| format!("{name}:{count}"))
                .collect()
        })
        .unwrap_or_default();
    for key in ["lost", "late"] {
        if let Some(count) = run[key].as_u64().filter(|&count| count > 0) {
            words.push(format!("{key}:{count}"));
        }
    }
    words.join(" ")
}

/// Whether a load streams (its rate is MB/s): bench.sh names them `bulk`
/// and `unixbulk`.
fn is_bulk(load: &str) -> bool {
    load.ends_with("bulk")
}

fn load_run(record: &Value) -> LoadRun {
    let run = &record["run"];
    let load = text(&record["load"]);
    let bulk = is_bulk(&load);
    let (rate, work) = if bulk {
        (
            run["mb_per_sec"].as_f64(),
            run["bytes"].as_f64().map(|bytes| bytes / 1e6),
        )
    } else {
        (run["requests_per_sec"].as_f64(), run["requests"].as_f64())
    };
    let cpu_us = record["server_cpu_us"].as_f64().unwrap_or(0.0);
    LoadRun {
        round: text(&record["round"]),
        load,
        server: text(&record["server"]),
        rate: rate.unwrap_or(0.0),
        p99_us: run["latency_us"]["p99"].as_f64(),
        cpu_per_work: work.filter(|&work| work > 0.0).map(|work| cpu_us / work),
        errors: errors(run),
        client_cpu_percent: run["client_cpu_percent"].as_f64(),
    }
}

/// The middle value (the mean of the two middle ones for an even count);
/// `None` for none.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => sorted.get(n / 2).copied(),
        _ => Some((sorted.get(n / 2 - 1)? + sorted.get(n / 2)?) / 2.0),
    }
}

/// Half the range of `values` relative to their median: `-` for fewer than
/// two, `>99%` past that (or for a median of zero).
fn spread(values: &[f64]) -> String {
    if values.len() < 2 {
        return "-".to_string();
    }
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let middle = median(values).unwrap_or(0.0);
    let percent = 100.0 * (high - low) / 2.0 / middle;
    if middle <= 0.0 || percent > 99.0 {
        ">99%".to_string()
    } else {
        format!("{percent:.0}%")
    }
}

/// Items in the order they first appear.
fn in_order<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// The median over the rounds of `value`'s ratio to the baseline's in the
/// same round, formatted `0.00`; `-` when there is no such round.
fn ratio(
    rounds: &BTreeSet<&str>,
    ours: &HashMap<&str, f64>,
    baseline: Option<&HashMap<&str, f64>>,
) -> String {
    let ratios: Vec<f64> = rounds
        .iter()
        .filter_map(|round| {
            let base = *baseline?.get(round)?;
            let ours = *ours.get(round)?;
            (base > 0.0).then(|| ours / base)
        })
        .collect();
    median(&ratios).map_or_else(|| "-".to_string(), |ratio| format!("{ratio:.2}"))
}

fn or_dash(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "-".to_string(), format)
}

/// The load table.
fn load_table(runs: &[LoadRun]) -> String {
    let mut out = String::new();
    let loads = in_order(runs.iter().map(|run| run.load.as_str()));
    let servers = in_order(runs.iter().map(|run| run.server.as_str()));
    // As wide as the longest name (sockd-delay1), so the columns line up.
    let width = servers
        .iter()
        .map(|name| name.len())
        .max()
        .unwrap_or(0)
        .max(10);
    let _ = writeln!(
        out,
        "{:<11} {:<width$} {:>15} {:>5} {:>8} {:>10} {:>15} {:>8} {:>8}  errors",
        "load", "server", "median", "+-", "x sockd", "p99 us", "server CPU", "x sockd", "gen CPU"
    );
    let rounds: BTreeSet<&str> = runs.iter().map(|run| run.round.as_str()).collect();
    // (load, server) → round → rate, and → round → CPU per work.
    let mut rates: HashMap<(&str, &str), HashMap<&str, f64>> = HashMap::new();
    let mut cpus: HashMap<(&str, &str), HashMap<&str, f64>> = HashMap::new();
    for run in runs {
        let key = (run.load.as_str(), run.server.as_str());
        rates
            .entry(key)
            .or_default()
            .insert(run.round.as_str(), run.rate);
        if let Some(cpu) = run.cpu_per_work {
            cpus.entry(key).or_default().insert(run.round.as_str(), cpu);
        }
    }
    for &load in &loads {
        let (unit, cpu_unit) = if is_bulk(load) {
            ("MB/s", "us/MB")
        } else {
            ("req/s", "us/req")
        };
        for &server in &servers {
            let mine: Vec<&LoadRun> = runs
                .iter()
                .filter(|run| run.load == load && run.server == server)
                .collect();
            // Not every server speaks every load's transport.
            if mine.is_empty() {
                continue;
            }
            let column = |pick: fn(&LoadRun) -> Option<f64>| -> Vec<f64> {
                mine.iter().filter_map(|run| pick(run)).collect()
            };
            let rate_list = column(|run| Some(run.rate));
            let errors: Vec<&str> = mine
                .iter()
                .map(|run| run.errors.as_str())
                .filter(|errors| !errors.is_empty())
                .collect();
            let empty = HashMap::new();
            let key = (load, server);
            let base = (load, BASELINE);
            let _ = writeln!(
                out,
                "{:<11} {:<width$} {:>9.1} {:<5} {:>5} {:>8} {:>10} {:>8.2} {:<6} {:>8} {:>7}%  {}",
                load,
                server,
                median(&rate_list).unwrap_or(0.0),
                unit,
                spread(&rate_list),
                ratio(&rounds, rates.get(&key).unwrap_or(&empty), rates.get(&base)),
                or_dash(median(&column(|run| run.p99_us)), |p| format!("{p:.1}")),
                median(&column(|run| run.cpu_per_work)).unwrap_or(0.0),
                cpu_unit,
                ratio(&rounds, cpus.get(&key).unwrap_or(&empty), cpus.get(&base)),
                or_dash(median(&column(|run| run.client_cpu_percent)), |g| format!(
                    "{g:.0}"
                )),
                if errors.is_empty() {
                    "-".to_string()
                } else {
                    errors.join("; ")
                },
            );
        }
    }
    out
}

/// The hold table: per server, the RSS before and at the peak of a `hold`
/// run, and what that is per connection.
fn hold_table(records: &[Value]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>12} {:>10} {:>12} {:>12} {:>14}  errors",
        "server", "connections", "requests", "RSS before", "RSS peak", "bytes/conn"
    );
    for record in records {
        let number = |key: &str| record[key].as_i64().unwrap_or(0);
        let (connections, before, peak) = (
            number("connections"),
            number("rss_before_kib"),
            number("rss_peak_kib"),
        );
        let per_conn = peak
            .saturating_sub(before)
            .saturating_mul(1024)
            .checked_div(connections)
            .unwrap_or(0);
        let errors = errors(&record["run"]);
        let _ = writeln!(
            out,
            "{:<10} {:>12} {:>10} {:>9} KiB {:>9} KiB {:>14}  {}",
            text(&record["server"]),
            connections,
            record["run"]["requests"].as_u64().unwrap_or(0),
            before,
            peak,
            per_conn,
            if errors.is_empty() { "-" } else { &errors },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Load-run records, as bench.sh writes them, from lines of `round load
    /// server server_cpu_us rate p99 work errors client_cpu_percent`
    /// (`-`: null; a rate of `-`: the run printed nothing). The expected
    /// tables below are what the awk program bench.sh used before printed for
    /// the same runs (one digit aside, where awk rounded).
    fn records_of(rows: &str) -> Vec<Value> {
        let number = |word: &str| word.parse::<f64>().ok();
        rows.lines()
            .map(|row| {
                let w: Vec<&str> = row.split_whitespace().collect();
                let (load, work) = (w[1], number(w[6]).unwrap_or(0.0));
                let errors: serde_json::Map<String, Value> = w[7]
                    .split(',')
                    .filter_map(|e| e.split_once(':'))
                    .map(|(name, count)| (name.to_string(), json!(count.parse::<u64>().ok())))
                    .collect();
                let run = number(w[4]).map(|rate| {
                    let mut run = json!({"errors": errors, "client_cpu_percent": number(w[8])});
                    if is_bulk(load) {
                        run["mb_per_sec"] = json!(rate);
                        run["bytes"] = json!((work * 1e6).round() as u64);
                    } else {
                        run["requests_per_sec"] = json!(rate);
                        run["requests"] = json!(work as u64);
                        run["latency_us"] = json!(number(w[5]).map(|p99| json!({"p99": p99})));
                    }
                    run
                });
                json!({"round": number(w[0]), "load": load, "server": w[2],
                       "server_cpu_us": number(w[3]), "run": run})
            })
            .collect()
    }

    fn table_of(rows: &str) -> String {
        let text: String = records_of(rows).iter().map(|r| format!("{r}\n")).collect();
        load_table(
            &records_or_panic(&text)
                .iter()
                .map(load_run)
                .collect::<Vec<_>>(),
        )
    }

    fn records_or_panic(text: &str) -> Vec<Value> {
        records(text).unwrap_or_else(|(line, why)| panic!("line {line}: {why}"))
    }

    const HEADER: &str = "load        server              median    +-  x sockd     p99 us      server CPU  x sockd  gen CPU  errors\n";

    #[test]
    fn three_rounds_give_medians_noise_and_ratios_within_rounds() {
        let rows = "\
1 pingpong1 sockd 812345 41234.5 35.2 123703 - 97.3
1 pingpong1 tokio 900000 38000.1 40.1 114000 - 95
1 pingpong1 socat 5000000 9000 250.5 27000 ECONNRESET:2,EOF:1 60.2
1 bulk sockd 400000 1234.56 - 6172.8 - 88.1
1 bulk tokio 450000 1100.25 - 5501.25 - 80
1 bulk socat 12000 - - 0 - -
2 pingpong1 sockd 800000 45000 33.3 135000 - 98.5
2 pingpong1 tokio 950000 30000.7 45.5 90002 - 96
2 pingpong1 socat 5100000 8000.5 300 24001 EOF:3 61
2 bulk sockd 410000 1300 - 6500 - 89
2 bulk tokio 460000 1000 - 5000 - 79.5
2 bulk socat 300000 200.5 - 1002.5 - 70
3 pingpong1 sockd 1000 - - 0 - -
3 pingpong1 tokio 920000 35000 42 105000 - 94
3 pingpong1 socat 5050000 8500 280.25 25500 - 62.5
3 bulk sockd 405000 1250.5 - 6252.5 - 88.5
3 bulk tokio 455000 1050 - 5250 - 80.5
3 bulk socat 310000 210 - 1050 - 71";
        let want = HEADER.to_string()
            + "pingpong1   sockd        41234.5 req/s   55%     1.00       34.2     6.25 us/req     1.00      98%  -\n"
            + "pingpong1   tokio        35000.0 req/s   11%     0.79       42.0     8.76 us/req     1.49      95%  -\n"
            + "pingpong1   socat         8500.0 req/s    6%     0.20      280.2   198.04 us/req    32.03      61%  ECONNRESET:2 EOF:1; EOF:3\n"
            + "bulk        sockd         1250.5 MB/s     3%     1.00          -    64.77 us/MB      1.00      88%  -\n"
            + "bulk        tokio         1050.0 MB/s     5%     0.84          -    86.67 us/MB      1.34      80%  -\n"
            // awk printed 297.25: it kept each round's CPU per MB as text
            // with 6 significant digits (299.252, 295.238) before taking
            // their mean; the exact mean is 297.2450.
            + "bulk        socat          200.5 MB/s    52%     0.15          -   297.24 us/MB      4.65      70%  -\n";
        assert_eq!(table_of(rows), want);
    }

    #[test]
    fn a_long_server_name_widens_its_column_for_every_row_and_the_header() {
        let rows = "\
1 pingpong50 sockd 812345 41234.5 35.2 123703 - 97.3
1 pingpong50 sockd-delay1 900000 38000.1 40.1 114000 - 95";
        let table = table_of(rows);
        let lines: Vec<&str> = table.lines().collect();
        let at = |line: &str, what: &str| line.find(what).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(at(lines[1], " req/s"), at(lines[2], " req/s"), "{table}");
        // The header's median column ends where the rows' units end.
        let unit_end = at(lines[1], " req/s") + " req/s".len();
        assert_eq!(at(lines[0], "median") + "median".len(), unit_end, "{table}");
    }

    #[test]
    fn without_sockd_there_are_no_ratios_and_wild_noise_is_capped() {
        let rows = "\
1 churn8 tokio 5000 100 12.25 100 ECONNREFUSED:1 10
1 churn8 ncat 3000 - - 0 - -
2 churn8 tokio 7000 10000 13.75 10000 - 20
2 churn8 ncat 2500 - - 0 - -";
        let want = HEADER.to_string()
            + "churn8      tokio         5050.0 req/s   98%        -       13.0    25.35 us/req        -      15%  ECONNREFUSED:1\n"
            + "churn8      ncat             0.0 req/s  >99%        -          -     0.00 us/req        -       -%  -\n";
        assert_eq!(table_of(rows), want);
    }

    #[test]
    fn losses_and_late_echoes_are_among_the_errors() {
        let run = json!({"errors": {"ECONNREFUSED": 1}, "lost": 3, "late": 0});
        assert_eq!(errors(&run), "ECONNREFUSED:1 lost:3");
        assert_eq!(errors(&json!({"errors": {}, "lost": null})), "");
    }

    #[test]
    fn unix_bulk_is_in_mb_per_second_and_udp_rows_in_requests() {
        let rows = "\
1 unixbulk socat 3000000 1500 - 1500 - 60
1 udp1 udp-echo 400000 25000.5 40 75000 - 90";
        let want = HEADER.to_string()
            + "unixbulk    socat         1500.0 MB/s      -        -          -  2000.00 us/MB         -      60%  -\n"
            + "udp1        udp-echo     25000.5 req/s     -        -       40.0     5.33 us/req        -      90%  -\n";
        assert_eq!(table_of(rows), want);
    }

    #[test]
    fn one_round_has_no_noise_and_ties_round_to_even() {
        let rows = "1 pingpong50 sockd 1000000 52000.25 900.5 156000 - 99.5";
        let want = HEADER.to_string()
            + "pingpong50  sockd        52000.2 req/s     -     1.00      900.5     6.41 us/req     1.00     100%  -\n";
        assert_eq!(table_of(rows), want);
    }

    #[test]
    fn the_hold_table_gives_bytes_per_connection() {
        let text = [
            json!({"server": "sockd", "connections": 10000, "rss_before_kib": 4120,
                   "rss_peak_kib": 12345, "run": {"requests": 20000, "errors": {}}}),
            json!({"server": "tokio", "connections": 10000, "rss_before_kib": 3000,
                   "rss_peak_kib": 45000,
                   "run": {"requests": 19998, "errors": {"ECONNRESET": 2, "ETIMEDOUT": 1}}}),
            json!({"server": "sockd", "connections": 10000, "rss_before_kib": 4000,
                   "rss_peak_kib": 4000, "run": null}),
        ]
        .iter()
        .map(|r| format!("{r}\n"))
        .collect::<String>();
        let want = "server      connections   requests   RSS before     RSS peak     bytes/conn  errors\n\
                    sockd             10000      20000      4120 KiB     12345 KiB            842  -\n\
                    tokio             10000      19998      3000 KiB     45000 KiB           4300  ECONNRESET:2 ETIMEDOUT:1\n\
                    sockd             10000          0      4000 KiB      4000 KiB              0  -\n";
        assert_eq!(hold_table(&records_or_panic(&text)), want);
        assert!(hold_table(&[]).starts_with("server "));
    }

    #[test]
    fn a_line_that_is_not_a_record_is_named() {
        assert_eq!(records("\n{\"a\": 1}\n\n"), Ok(vec![json!({"a": 1})]));
        assert_eq!(records("{}\n[1]\n").map_err(|(line, _)| line), Err(2));
        assert_eq!(records("{\"a\":").map_err(|(line, _)| line), Err(1));
    }

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(spread(&[5.0]), "-");
        assert_eq!(spread(&[90.0, 110.0]), "10%");
        assert_eq!(spread(&[0.0, 0.0]), ">99%");
    }
}
