//! clap's usage errors in sockkit's own words: one line that names what is
//! wrong (the missing argument, the flag and its bad value in double quotes,
//! as every other sockkit message quotes a value, clap's "did you mean"). clap's own rendering is a paragraph whose first
//! line loses the names ("the following required arguments were not
//! provided:") and quotes in its own style.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::error::Error as _;

/// `err`, raised while parsing for `cmd`, as the line after `PROGRAM: `:
/// `missing <PORT>`, `invalid --timeout "0": …`, `unknown option "--x"`.
pub fn describe(err: &clap::Error, cmd: &clap::Command) -> String {
    let line = match err.kind() {
        ErrorKind::MissingRequiredArgument => strings(err, ContextKind::InvalidArg)
            .filter(|names| !names.is_empty())
            .map(|names| format!("missing {}", listed(&names, "and"))),
        ErrorKind::MissingSubcommand => Some(missing_command(cmd)),
        ErrorKind::ValueValidation => bad_value(err).map(|(flag, value)| {
            let reason = err.source().map_or(String::new(), |e| format!(": {e}"));
            format!("invalid {flag} {value:?}{reason}")
        }),
        ErrorKind::InvalidValue => bad_value(err).map(|(flag, value)| {
            let valid = strings(err, ContextKind::ValidValue).unwrap_or_default();
            let expected = match valid.is_empty() {
                true => String::new(),
                false => format!(": expected {}", listed(&valid, "or")),
            };
            match value.is_empty() {
                true => format!("{flag} needs a value{expected}"),
                false => format!("invalid {flag} {value:?}{expected}"),
            }
        }),
        ErrorKind::UnknownArgument => {
            string(err, ContextKind::InvalidArg).map(|arg| match arg.starts_with('-') {
                true => format!("unknown option {arg:?}"),
                false => format!("unexpected argument {arg:?}"),
            })
        }
        ErrorKind::ArgumentConflict => string(err, ContextKind::InvalidArg).map(|arg| {
            let prior = strings(err, ContextKind::PriorArg).unwrap_or_default();
            let prior: Vec<String> = prior.iter().map(|p| flag_name(p)).collect();
            match prior.is_empty() {
                // An exclusive flag (`--generate`) says no more than that.
                true => format!("{} cannot be used with other arguments", flag_name(&arg)),
                false => format!(
                    "{} cannot be used with {}",
                    flag_name(&arg),
                    listed(&prior, "or")
                ),
            }
        }),
        ErrorKind::InvalidSubcommand => string(err, ContextKind::InvalidSubcommand)
            .map(|name| format!("unknown command {name:?}")),
        ErrorKind::TooManyValues => string(err, ContextKind::InvalidValue)
            .map(|value| format!("unexpected argument {value:?}")),
        _ => None,
    };
    let line = line.unwrap_or_else(|| first_line(&err.to_string()));
    match suggestion(err) {
        Some(like) => format!("{line}; did you mean {like:?}?"),
        None => line,
    }
}

/// The flag and the value it was given.
fn bad_value(err: &clap::Error) -> Option<(String, String)> {
    let flag = string(err, ContextKind::InvalidArg)?;
    let value = string(err, ContextKind::InvalidValue)?;
    Some((flag_name(&flag), value))
}

/// `sockbench` without one of its commands.
fn missing_command(cmd: &clap::Command) -> String {
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_string())
        .collect();
    format!("missing a command: {}", listed(&names, "or"))
}

/// clap's "did you mean" for an unknown option or command.
fn suggestion(err: &clap::Error) -> Option<String> {
    string(err, ContextKind::SuggestedArg)
        .map(|flag| flag_name(&flag))
        .or_else(|| {
            strings(err, ContextKind::SuggestedSubcommand)?
                .first()
                .cloned()
        })
}

/// `--timeout <SECS>` → `--timeout`; `<PORT>` stays `<PORT>`.
fn flag_name(arg: &str) -> String {
    match arg.starts_with('-') {
        true => arg.split([' ', '=']).next().unwrap_or(arg).to_string(),
        false => arg.to_string(),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn listed(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., final_item] => format!("{} {last} {final_item}", rest.join(", ")),
    }
}

fn string(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(text) => Some(text.clone()),
        _ => None,
    }
}

fn strings(err: &clap::Error, kind: ContextKind) -> Option<Vec<String>> {
    match err.get(kind)? {
        ContextValue::Strings(texts) => Some(texts.clone()),
        ContextValue::String(text) => Some(vec![text.clone()]),
        _ => None,
    }
}

/// For a kind without context to build from: clap's first line, without
/// its "error: " prefix.
fn first_line(rendered: &str) -> String {
    let first = rendered
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("usage error");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cmd() -> Command {
        Command::new("sockt")
            .arg(Arg::new("ip").value_name("IP").required(true))
            .arg(Arg::new("port").value_name("PORT").required(true))
            .arg(Arg::new("message").value_name("MESSAGE").num_args(0..))
            .arg(
                Arg::new("timeout")
                    .long("timeout")
                    .value_name("SECS")
                    .value_parser(|text: &str| match text {
                        "1" => Ok(1),
                        _ => Err("expected 1".to_string()),
                    }),
            )
            .arg(
                Arg::new("source")
                    .long("source")
                    .value_parser(["netlink", "proc"]),
            )
            .arg(Arg::new("chat").long("chat").action(ArgAction::SetTrue))
            .arg(Arg::new("threads").long("threads").conflicts_with("chat"))
    }

    fn usage(args: &[&str]) -> String {
        let mut cmd = cmd();
        let argv = std::iter::once("sockt").chain(args.iter().copied());
        match cmd.try_get_matches_from_mut(argv) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(err) => describe(&err, &cmd),
        }
    }

    #[test]
    fn missing_arguments_are_named() {
        assert_eq!(usage(&[]), "missing <IP> and <PORT>");
        assert_eq!(usage(&["127.0.0.1"]), "missing <PORT>");
    }

    #[test]
    fn bad_values_are_double_quoted_after_their_flag() {
        assert_eq!(
            usage(&["a", "1", "--timeout", "0"]),
            "invalid --timeout \"0\": expected 1"
        );
        assert_eq!(
            usage(&["a", "1", "--source", "x\u{1b}"]),
            "invalid --source \"x\\u{1b}\": expected netlink or proc"
        );
        assert_eq!(
            usage(&["a", "1", "--source"]),
            "--source needs a value: expected netlink or proc"
        );
    }

    #[test]
    fn unknown_options_and_conflicts() {
        assert_eq!(
            usage(&["a", "1", "--timeot", "1"]),
            "unknown option \"--timeot\"; did you mean \"--timeout\"?"
        );
        assert_eq!(usage(&["a", "1", "hi", "-x"]), "unknown option \"-x\"");
        assert_eq!(
            usage(&["a", "1", "--chat", "--threads", "2"]),
            "--chat cannot be used with --threads"
        );
    }

    #[test]
    fn lists_read_as_prose() {
        let items = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(listed(&items(1), "or"), "1");
        assert_eq!(listed(&items(2), "or"), "1 or 2");
        assert_eq!(listed(&items(3), "and"), "1, 2 and 3");
        assert_eq!(first_line("error: x\n\nUsage: y\n"), "x");
    }
}
