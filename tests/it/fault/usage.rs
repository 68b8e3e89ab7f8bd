//! Bad fault values and combinations are usage errors: exit 64, one line
//! naming the flag.

use crate::util::sockd;

#[test]
fn bad_fault_values_are_usage_errors_on_one_line() {
    let cases: &[(&str, &str, &str)] = &[
        ("--delay", "-1", "expected whole milliseconds"),
        ("--delay", "1.5", "expected whole milliseconds"),
        ("--delay", "100:150", "no larger than the delay"),
        ("--delay", "100:", "expected whole milliseconds"),
        ("--delay", "31536000001", "at most a year"),
        ("--rate", "0", "at least 1 byte per second"),
        ("--rate", "1G", "K = 1024, M = 1024²"),
        ("--rate", "18446744073709551615K", "a number of bytes"),
        ("--chunk", "0", "at least 1 byte"),
        ("--chunk", "10:x", "expected whole milliseconds"),
        ("--close-after", "1ms", "seconds"),
        ("--close-after", "-5", "a number of bytes"),
        ("--reset-after", "0s", "seconds greater than 0"),
        ("--reset-after", "x", "a number of bytes"),
        ("--accept-delay", "soon", "expected whole milliseconds"),
        (
            "--on-accept",
            "drop",
            "expected close, reset, hang or blackhole",
        ),
        ("--slow-close", "-500", "expected whole milliseconds"),
        ("--corrupt", "1.5", "a share from 0 to 1"),
        ("--corrupt", "nan", "a share from 0 to 1"),
        ("--fault-share", "2", "a share from 0 to 1"),
        ("--seed", "-1", "a whole number from 0 to"),
    ];
    for &(flag, value, reason) in cases {
        let out = sockd().args([flag, value, "127.0.0.1", "0"]).run();
        out.fails_with(64, &format!("sockd: invalid {flag} \"{value}\": "))
            .stderr_has(reason)
            .stderr_lines(1);
    }
}

#[test]
fn faults_with_chat_or_a_share_without_faults_are_usage_errors() {
    for (flag, value) in [
        ("--delay", "5"),
        ("--rate", "1K"),
        ("--chunk", "10"),
        ("--close-after", "10"),
        ("--reset-after", "1s"),
        ("--accept-delay", "5"),
        ("--on-accept", "hang"),
        ("--slow-close", "5"),
        ("--corrupt", "0.5"),
    ] {
        sockd()
            .args(["--chat", flag, value, "127.0.0.1", "0"])
            .run()
            .fails_with(64, &format!("sockd: --chat cannot be used with {flag}"))
            .stderr_lines(1);
    }
    for alone in [&["--fault-share", "0.5"][..], &["--seed", "3"][..]] {
        sockd()
            .args(alone)
            .args(["127.0.0.1", "0"])
            .run()
            .fails_with(
                64,
                &format!("sockd: {} needs a fault to apply (--delay", alone[0]),
            )
            .stderr_lines(1);
    }
}
