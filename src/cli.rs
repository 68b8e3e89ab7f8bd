//! What every binary does around its one library call: parse arguments with
//! the shared exit codes, set up diagnostics, print an error once.

use crate::error::Error;
use crate::exit::Exit;
use std::process::ExitCode;

/// Parses the command line; `--help`/`--version` print and exit 0, any other
/// clap error prints one line (`PROGRAM: …`) and exits 64.
pub fn parse_args<T: clap::Parser>(program: &str) -> Result<T, ExitCode> {
    match T::try_parse() {
        Ok(args) => Ok(args),
        Err(err) => {
            use clap::error::ErrorKind;
            match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = err.print();
                    Err(Exit::Success.into())
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = err.print();
                    Err(Exit::Usage.into())
                }
                _ => {
                    eprintln!("{program}: {}", one_line_usage_error(&err.to_string()));
                    Err(Exit::Usage.into())
                }
            }
        }
    }
}

/// clap's first line ("error: unexpected argument ..."), without its
/// "error: " prefix, as the one line a user sees.
fn one_line_usage_error(rendered: &str) -> String {
    let first = rendered
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("usage error");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first} (try --help)")
}

/// Parses a duration in seconds (`10`, `0.5`): positive, finite, at least a
/// nanosecond (`1e-10` would round to a zero timeout), at most a year. A clap
/// value parser, so a bad value is a usage error.
pub fn parse_secs(text: &str) -> Result<std::time::Duration, String> {
    const YEAR: f64 = 365.0 * 24.0 * 3600.0;
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= YEAR => {
            match std::time::Duration::try_from_secs_f64(secs) {
                Ok(duration) if !duration.is_zero() => Ok(duration),
                _ => Err("expected at least a nanosecond".to_string()),
            }
        }
        _ => Err("expected a number of seconds greater than 0".to_string()),
    }
}

/// Diagnostics on stderr: `RUST_LOG` when set, else `-v` (info), `-vv`
/// (debug), `-q` (errors only), default warnings.
pub fn init_logging(program: &'static str, verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let env = env_logger::Env::default().default_filter_or(default);
    let _ = env_logger::Builder::from_env(env)
        .format(move |buf, record| {
            use std::io::Write;
            writeln!(buf, "{program}: {}", record.args())
        })
        .try_init();
}

/// Prints a failure once (`PROGRAM: OP ADDR: description (ENAME)` and its
/// hint) and returns the exit code it maps to.
pub fn report(program: &str, result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) | Err(Error::StdoutClosed) => Exit::Success.into(),
        Err(Error::Reported(exit)) => exit.into(),
        Err(err) => {
            eprintln!("{program}: {err}");
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            err.exit().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::one_line_usage_error;

    #[test]
    fn seconds_are_positive_and_finite() {
        use super::parse_secs;
        assert_eq!(parse_secs("0.5"), Ok(std::time::Duration::from_millis(500)));
        for bad in [
            "0", "-1", "nan", "inf", "", "1e300", "ten", "1e-10", "5e-324",
        ] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usage_errors_fold_to_one_line() {
        let rendered = "error: unexpected argument '--nope' found\n\nUsage: sockd <IP> <PORT>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line_usage_error(rendered),
            "unexpected argument '--nope' found (try --help)"
        );
    }
}
