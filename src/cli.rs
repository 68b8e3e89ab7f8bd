//! What every binary does around its one library call: parse arguments with
//! SPEC.md's exit codes, set up diagnostics, print an error once.

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
/// hint) and returns the exit code SPEC.md assigns to it.
pub fn report(program: &str, result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) | Err(Error::StdoutClosed) => Exit::Success.into(),
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
    fn usage_errors_fold_to_one_line() {
        let rendered = "error: unexpected argument '--nope' found\n\nUsage: sockd <IP> <PORT>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line_usage_error(rendered),
            "unexpected argument '--nope' found (try --help)"
        );
    }
}
