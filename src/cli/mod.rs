//! What every binary does around its one library call: parse arguments with
//! the shared exit codes, set up diagnostics, print an error once.

mod generate;
mod usage;

pub use generate::Generate;

use crate::error::Error;
use crate::exit::Exit;
use clap::{Arg, ArgAction, Command};
use std::process::ExitCode;

/// `-v`, as every program has it.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Verbosity {
    /// More diagnostics on stderr: -v info, -vv debug (RUST_LOG overrides)
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
}

/// Parses the command line. `--help`, `--version` and `--generate KIND`
/// print and exit 0; a usage error prints one line (`PROGRAM: missing <PORT> (try --help)`, and
/// a hint where one helps) and exits 64.
pub fn parse_args<T: clap::Parser>(program: &'static str) -> Result<T, ExitCode> {
    let mut cmd = command::<T>(program);
    let matches = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .map_err(|err| clap_failure(program, &cmd, &err))?;
    if let Some(&kind) = matches.get_one::<Generate>(generate::ID) {
        return Err(report(program, generate::print(kind, cmd)));
    }
    T::from_arg_matches(&matches).map_err(|err| clap_failure(program, &cmd, &err))
}

/// `T`'s clap definition as every program presents it: named after the
/// program (its `--version` line too), with `--generate`, one help layout
/// (`-h` and `--help` both print the short form; the long one is the man
/// page; no `help` command), and a missing argument or command named on
/// one line, as for every other usage error, rather than answered with the
/// whole help.
fn command<T: clap::CommandFactory>(program: &'static str) -> Command {
    let mut cmd = T::command()
        .name(program)
        .bin_name(program)
        .version(env!("CARGO_PKG_VERSION"))
        .arg(generate::arg())
        .arg_required_else_help(false)
        .disable_help_subcommand(true);
    if cmd.has_subcommands() {
        // `--generate` stands alone: `sockbench --generate man` names no
        // command, so the command is checked after parsing.
        cmd = cmd.subcommand_required(false).override_usage(format!(
            "{program} <COMMAND>\n       {program} --generate <KIND>"
        ));
    }
    short_help(cmd)
}

fn short_help(cmd: Command) -> Command {
    cmd.disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::HelpShort)
                .help("Print help"),
        )
        .mut_subcommands(short_help)
}

/// Prints a clap outcome that ends the program, and says with what code.
fn clap_failure(program: &str, cmd: &Command, err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            Exit::Success.into()
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            Exit::Usage.into()
        }
        _ => {
            let line = usage::describe(err, cmd);
            crate::io::write_stderr(&format!("{program}: {line} (try --help)\n"));
            Exit::Usage.into()
        }
    }
}

/// Parses a count of at least 1 that fits `T` (`--max-conns`,
/// `--exit-after`, `--backlog`): a clap value parser that says so in words,
/// where clap's own range check would print `0 is not in
/// 1..18446744073709551615`.
pub fn parse_count<T>(text: &str) -> Result<T, String>
where
    T: TryFrom<u64> + Copy,
{
    let at_most = || match T::try_from(u64::MAX) {
        Ok(_) => u64::MAX,
        // The largest that fits: a binary search over the bits.
        Err(_) => (0..64).rev().fold(0u64, |fits, bit| {
            let more = fits | (1 << bit);
            if T::try_from(more).is_ok() {
                more
            } else {
                fits
            }
        }),
    };
    // `+5` parses as 5, so `+99999999999999999999` is too big, not no number.
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    let digits = !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u64>() {
        Ok(0) => Err("expected at least 1".to_string()),
        Ok(n) => T::try_from(n).map_err(|_| format!("expected at most {}", at_most())),
        Err(_) if digits => Err(format!("expected at most {}", at_most())),
        Err(_) => Err("expected a whole number of at least 1".to_string()),
    }
}

/// Parses a duration in seconds (`10`, `0.5`): positive, at least a
/// nanosecond (`1e-10` would round to a zero timeout), at most a year. A clap
/// value parser, so a bad value is a usage error.
pub fn parse_secs(text: &str) -> Result<std::time::Duration, String> {
    const YEAR: f64 = 365.0 * 24.0 * 3600.0;
    match text.parse::<f64>() {
        Ok(secs) if secs > YEAR => Err(format!("expected at most a year ({YEAR} seconds)")),
        Ok(secs) if secs > 0.0 => match std::time::Duration::try_from_secs_f64(secs) {
            Ok(duration) if !duration.is_zero() => Ok(duration),
            _ => Err("expected at least a nanosecond".to_string()),
        },
        _ => Err("expected a number of seconds greater than 0".to_string()),
    }
}

/// Diagnostics on stderr: `RUST_LOG` when set, else `-v` (info), `-vv`
/// (debug), `-q` (errors only), default warnings. `-v` outranks `-q`, which
/// sockd's `--events -` requires only to keep its transcript off stdout.
pub fn init_logging(program: &'static str, verbose: u8, quiet: bool) {
    let default = match (verbose, quiet) {
        (0, true) => "error",
        (0, false) => "warn",
        (1, _) => "info",
        (2, _) => "debug",
        _ => "trace",
    };
    let env = env_logger::Env::default().default_filter_or(default);
    let _ = env_logger::Builder::from_env(env)
        .target(env_logger::Target::Pipe(Box::new(crate::io::stderr::Lines)))
        .format(move |buf, record| {
            use std::io::Write;
            writeln!(buf, "{program}: {}", record.args())
        })
        .try_init();
}

/// Prints a failure once (`PROGRAM: OP ADDR: description (ENAME)` and its
/// hint) after every line queued for stderr, and returns the exit code it
/// maps to.
pub fn report(program: &str, result: Result<(), Error>) -> ExitCode {
    let code = match result {
        Ok(()) | Err(Error::StdoutClosed) => Exit::Success.into(),
        Err(Error::Reported(exit)) => exit.into(),
        Err(err) => {
            let mut lines = format!("{program}: {err}\n");
            if let Some(hint) = err.hint() {
                lines += &format!("hint: {hint}\n");
            }
            crate::io::write_stderr(&lines);
            err.exit().into()
        }
    };
    crate::io::stderr::finish(crate::io::stderr::FINAL_FLUSH);
    code
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_at_least_one_and_fit_their_type_in_words() {
        use super::parse_count;
        assert_eq!(parse_count::<u32>("7"), Ok(7));
        assert_eq!(parse_count::<i32>("2147483647"), Ok(i32::MAX));
        assert_eq!(parse_count::<u64>("18446744073709551615"), Ok(u64::MAX));
        let at_least = Err("expected at least 1".to_string());
        assert_eq!(parse_count::<u64>("0"), at_least);
        assert_eq!(parse_count::<u32>("+5"), Ok(5));
        assert_eq!(parse_count::<u32>("007"), Ok(7));
        for (text, max) in [
            ("2147483648", "2147483647"),
            ("99999999999999999999", "2147483647"),
            ("+99999999999999999999", "2147483647"),
        ] {
            assert_eq!(
                parse_count::<i32>(text),
                Err(format!("expected at most {max}"))
            );
        }
        assert_eq!(
            parse_count::<u32>("4294967296"),
            Err("expected at most 4294967295".to_string())
        );
        for bad in ["", "+", "-1", "x", "1.5", " 1", "\u{ff15}"] {
            assert_eq!(
                parse_count::<u32>(bad),
                Err("expected a whole number of at least 1".to_string()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn seconds_are_positive_and_finite() {
        use super::parse_secs;
        assert_eq!(parse_secs("0.5"), Ok(std::time::Duration::from_millis(500)));
        for bad in [
            "0", "-1", "nan", "inf", "", "1e300", "ten", "1e-10", "5e-324",
        ] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
        let year = 365 * 24 * 3600;
        assert!(parse_secs(&year.to_string()).is_ok());
        for past_a_year in ["1000000000", "31536000.5", "inf"] {
            assert_eq!(
                parse_secs(past_a_year),
                Err(format!("expected at most a year ({year} seconds)")),
                "{past_a_year}"
            );
        }
        assert_eq!(
            parse_secs("1e-10"),
            Err("expected at least a nanosecond".to_string())
        );
    }
}
