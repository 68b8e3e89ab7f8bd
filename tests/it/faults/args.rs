//! Hostile arguments, table-driven: every argument of `sockd` and `sockc`
//! gets overlong, non-UTF-8, negative, huge, fractional and malformed values;
//! each must be exit 64 with exactly one stderr line and no panic.
//!
//! NUL bytes cannot reach a program through `execve` (argv strings end at
//! the first NUL); the parsers' own tests and the fuzz targets cover them.

use crate::util::{Cmd, Outcome, SOCKC, SOCKD, sockd};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// Values no argument accepts.
fn strings() -> Vec<OsString> {
    let mut values: Vec<OsString> = [
        "",
        " ",
        "-",
        "\u{202e}1",
        "１",
        "٨٠",
        "0x10",
        "1_000",
        "one",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    values.push(OsStr::from_bytes(b"\xff").to_owned());
    values.push(OsStr::from_bytes(b"1\xff").to_owned());
    values.push(OsStr::from_bytes(b"\xc3\x28").to_owned());
    values.push("A".repeat(100_000).into());
    values.push("9".repeat(100_000).into());
    values
}

/// Not integers at all, or beyond every integer type.
fn bad_ints(beyond: &[&str]) -> Vec<OsString> {
    [
        "0",
        "-1",
        "-0",
        "1.5",
        "2.0",
        "1e3",
        "nan",
        "inf",
        "-9223372036854775809",
        "18446744073709551616",
        "99999999999999999999999999999999",
    ]
    .iter()
    .chain(beyond)
    .map(OsString::from)
    .collect()
}

/// Durations in seconds that are not positive, finite, at least a
/// nanosecond and at most a year.
fn bad_secs() -> Vec<OsString> {
    [
        "0", "-0", "-1", "-0.5", "nan", "NaN", "inf", "-inf", "1e309", "1e300", "31536001",
        "1e-10", "1.5e-300", "0x10",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

fn ports() -> Vec<OsString> {
    let mut values = bad_ints(&["65536", "+80", "80.0", "8O", "0b1", "4294967296"]);
    values.retain(|v| v != "0");
    values
}

fn ips() -> Vec<OsString> {
    let mut values: Vec<OsString> = [
        "127.1",
        "256.0.0.1",
        "1.2.3.4.5",
        "1.2.3.4:80",
        "[::1]:80",
        "::1/128",
        "::ffff:999.1.1.1",
        "localhost.",
        "LOCALHOST",
        "::1%",
        "fe80::1%",
        "fe80::1%nosuchif0",
        "fe80::1%../../etc/passwd",
        "fe80::1%/",
        "fe80::1%.",
        "fe80::1%lo%lo",
        "fe80::1% lo",
        "fe80::1%lo\n",
        "fe80::1%-1",
        "fe80::1%+1",
        "fe80::1%0",
        "fe80::1%4294967295",
        "fe80::1%4294967296",
        "fe80::1%99999",
        "[fe80::1%lo",
        "fe80::1%lo]",
        "[fe80::1]%lo",
        "[[::1]]",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    values.push(format!("fe80::1%{}", "x".repeat(100_000)).into());
    values.push(format!("fe80::1%{}", "1".repeat(100_000)).into());
    values.push(OsStr::from_bytes(b"fe80::1%\xff").to_owned());
    values.push(OsStr::from_bytes(b"127.0.0.\xff").to_owned());
    values.extend(strings());
    values
}

/// The values of [`ips`] that are host names as sockd and sockc take them.
const HOST_NAMES: [&str; 4] = ["localhost.", "LOCALHOST", "1_000", "one"];

struct Case {
    program: &'static str,
    args: Vec<OsString>,
}

fn case(program: &'static str, args: Vec<OsString>) -> Case {
    Case { program, args }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn with(mut base: Vec<OsString>, extra: &[OsString]) -> Vec<OsString> {
    base.extend_from_slice(extra);
    base
}

fn table() -> Vec<Case> {
    let mut cases = Vec::new();
    // Positional IP and PORT of both programs.
    for ip in ips() {
        // Well-formed host names to both: looked up, not refused as usage
        // (sockc_z.rs and sockd_hosts.rs have what they do).
        if !HOST_NAMES.iter().any(|name| ip == *name) {
            cases.push(case(SOCKD, vec![ip.clone(), "0".into()]));
            cases.push(case(SOCKC, vec![ip, "1".into(), "x".into()]));
        }
    }
    for port in ports().into_iter().chain(strings()) {
        cases.push(case(SOCKD, vec!["127.0.0.1".into(), port.clone()]));
        cases.push(case(SOCKC, vec!["127.0.0.1".into(), port, "x".into()]));
    }
    // Every valued flag, every hostile value.
    let sockd_flags = [
        ("--max-conns", bad_ints(&["4294967296"])),
        ("--idle-timeout", bad_secs()),
        ("--exit-after", bad_ints(&[])),
        ("--threads", bad_ints(&["1025", "65535", "65536"])),
        ("--backlog", bad_ints(&["2147483648", "4294967296"])),
    ];
    for (flag, values) in sockd_flags {
        for value in values.into_iter().chain(strings()) {
            cases.push(case(SOCKD, with(os(&["127.0.0.1", "0", flag]), &[value])));
        }
        // A flag given twice, and a flag missing its value.
        cases.push(case(SOCKD, os(&["127.0.0.1", "0", flag, "2", flag, "3"])));
        cases.push(case(SOCKD, os(&["127.0.0.1", "0", flag])));
    }
    for flag in ["--timeout", "--wait"] {
        for value in bad_secs().into_iter().chain(strings()) {
            cases.push(case(
                SOCKC,
                with(os(&[flag]), &[value])
                    .into_iter()
                    .chain(os(&["127.0.0.1", "1", "x"]))
                    .collect(),
            ));
        }
        cases.push(case(SOCKC, os(&[flag, "127.0.0.1", "1"])));
    }
    // Message words are text; bytes go through `-` (stdin).
    cases.push(case(
        SOCKC,
        vec![
            "127.0.0.1".into(),
            "1".into(),
            OsStr::from_bytes(b"\xff\xfe").to_owned(),
        ],
    ));
    // Flags that do not exist, and a counter given far too often.
    for program in [SOCKD, SOCKC] {
        // (after sockc's IP PORT, `--bogus` is a message word: flags go first)
        cases.push(case(program, os(&["--bogus", "127.0.0.1", "1"])));
        cases.push(case(
            program,
            vec![
                OsStr::from_bytes(b"--\xff").to_owned(),
                "127.0.0.1".into(),
                "1".into(),
            ],
        ));
        cases.push(case(
            program,
            os(&[&format!("-{}", "v".repeat(300)), "127.1", "1"]),
        ));
        cases.push(case(program, os(&["-q", "-v", "127.1", "1"])));
    }
    cases.push(case(
        SOCKD,
        os(&["127.0.0.1", "0", "--chat", "--threads", "0"]),
    ));
    cases
}

#[track_caller]
fn check(out: &Outcome, program: &str) -> Result<(), String> {
    let name = if program == SOCKD {
        "sockd: "
    } else {
        "sockc: "
    };
    let lines: Vec<&str> = out.stderr.lines().collect();
    let problem = if let Some(limit) = out.killed_after {
        Some(format!("still running after {limit:?}: killed"))
    } else if out.code != Some(64) {
        Some(format!("exit {:?}, not 64", out.code))
    } else if out.stderr.contains("panicked") {
        Some("panicked".into())
    } else if lines.len() != 1 || lines[0].trim().is_empty() {
        Some(format!("{} stderr lines, not 1", lines.len()))
    } else if !lines[0].starts_with(name) {
        Some(format!("stderr does not start with {name:?}"))
    } else if !out.stdout.is_empty() {
        Some("wrote to stdout".into())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => {
            let stderr: String = out.stderr.chars().take(400).collect();
            Err(format!("{}: {problem}; stderr: {stderr}", out.command))
        }
    }
}

#[test]
fn every_argument_rejects_hostile_values_with_64_and_one_line() {
    let cases = table();
    let total = cases.len();
    // Two at a time: the table is a few hundred short-lived processes.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let (left, right) = cases.split_at(total / 2);
        let run_half = |half: &[Case]| {
            half.iter()
                .filter_map(|case| {
                    let out = Cmd::new(case.program)
                        .args(&case.args)
                        .limit(Duration::from_secs(10))
                        .run();
                    check(&out, case.program).err()
                })
                .collect::<Vec<_>>()
        };
        let a = scope.spawn(move || run_half(left));
        let mut failures = run_half(right);
        failures.extend(a.join().unwrap_or_default());
        failures
    });
    eprintln!(
        "hostile arguments: {total} command lines, {} wrong",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `--port-file` names a path: any bytes are a valid name, so what fails is
/// the write, an OS error (71) on one line, after the bind; only a missing
/// value is a usage error.
#[test]
fn hostile_port_file_paths_are_os_errors_on_one_line() {
    let long = format!("/tmp/{}", "p".repeat(100_000));
    let component = format!("/tmp/{}", "p".repeat(300));
    for (path, code, needle) in [
        (OsString::from(""), 64, "--port-file needs a value"),
        (OsString::from(long), 71, "(ENAMETOOLONG)"),
        (OsString::from(component), 71, "(ENAMETOOLONG)"),
        (OsString::from("/proc/self/nope/port"), 71, "(ENOENT)"),
    ] {
        sockd()
            .args(["-q", "127.0.0.1", "0", "--port-file"])
            .arg(&path)
            .limit(Duration::from_secs(10))
            .run()
            .fails_with(code, needle)
            .stderr_lines(1)
            .stderr_starts_with("sockd: ");
    }
}
