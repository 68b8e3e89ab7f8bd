//! `--generate man|bash|zsh|fish` (ripgrep's convention): the man page and
//! the shell completions, built from the very `clap::Command` that parses
//! the arguments and prints `--help`, so none of them can drift.

use crate::error::{Error, Result};
use crate::exit::Exit;
use clap::{Arg, Command, ValueEnum};

/// The argument's id in the matches.
pub const ID: &str = "generate";

/// What `--generate` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// A roff man page (`man -l -`, or save as `PROGRAM.1`)
    Man,
    /// A bash completion script
    Bash,
    /// A zsh completion script (`_PROGRAM`)
    Zsh,
    /// A fish completion script (`PROGRAM.fish`)
    Fish,
}

/// The flag every program has. Exclusive: it needs none of the program's
/// required arguments and takes no other.
pub fn arg() -> Arg {
    Arg::new(ID)
        .long(ID)
        .value_name("KIND")
        .value_parser(clap::value_parser!(Generate))
        .hide_possible_values(true)
        .exclusive(true)
        .help("Print a man page or a completion script (man, bash, zsh, fish), then exit")
}

/// Writes `kind` for `cmd` on stdout.
///
/// # Errors
/// A stdout that cannot be written (a closed one is
/// [`Error::StdoutClosed`], exit 0).
pub fn print(kind: Generate, mut cmd: Command) -> Result<()> {
    let shell = match kind {
        Generate::Man => None,
        Generate::Bash => Some(clap_complete::Shell::Bash),
        Generate::Zsh => Some(clap_complete::Shell::Zsh),
        Generate::Fish => Some(clap_complete::Shell::Fish),
    };
    let mut out = Vec::new();
    match shell {
        None => man_page(&cmd, &mut out)
            .map_err(|err| Error::from_io("render", "the man page", &err))?,
        Some(shell) => {
            cmd.build();
            let name = cmd.get_name().to_string();
            clap_complete::generate(shell, &mut visible(&cmd), name, &mut out);
        }
    }
    crate::io::write_stdout(&out)
}

/// A built `cmd` without its hidden arguments and commands (sockd's
/// internal `--detached`, sockbench's helpers for its scripts):
/// clap_complete offers every argument, hidden or not.
fn visible(cmd: &Command) -> Command {
    let mut copy = Command::new(cmd.get_name().to_string())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true);
    if let Some(about) = cmd.get_about() {
        copy = copy.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        copy = copy.version(version.to_string());
    }
    copy.args(
        cmd.get_arguments()
            .filter(|arg| !arg.is_hide_set())
            .cloned(),
    )
    .subcommands(
        cmd.get_subcommands()
            .filter(|sub| !sub.is_hide_set())
            .map(visible),
    )
}

/// clap_mangen's page (name, synopsis, description, options, commands),
/// then a section per subcommand with its own options (sockbench), the exit
/// status table and the other programs.
fn man_page(cmd: &Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut cmd = cmd.clone();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let title = format!("{} {}", cmd.get_name(), sub.get_name()).to_uppercase();
        out.extend_from_slice(format!(".SH \"{}\"\n", roff_text(&title)).as_bytes());
        let page = clap_mangen::Man::new(sub.clone());
        let mut section = Vec::new();
        page.render_synopsis_section(&mut section)?;
        page.render_description_section(&mut section)?;
        page.render_options_section(&mut section)?;
        // Within the command's section, its parts are subsections.
        let section = format!("\n{}", String::from_utf8_lossy(&section));
        out.extend_from_slice(&section.replace("\n.SH ", "\n.SS ").as_bytes()[1..]);
    }
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for exit in Exit::ALL {
        let line = format!(".TP\n{}\n{}\n", exit.code(), roff_text(exit.meaning()));
        out.extend_from_slice(line.as_bytes());
    }
    let others: Vec<String> = ["sockd", "sockc", "sockstat", "sockbench"]
        .into_iter()
        .filter(|program| *program != cmd.get_name())
        .map(|program| format!("\\fB{program}\\fR(1)"))
        .collect();
    out.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", others.join(", ")).as_bytes());
    man.render_version_section(out)
}

/// Text safe on a roff line: backslashes doubled, and a leading `.` or `'`
/// (which would make the line a request) guarded by `\&`.
fn roff_text(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    match text.starts_with(['.', '\'']) {
        true => format!("\\&{text}"),
        false => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> Command {
        Command::new("sockt")
            .version("1.0")
            .about("A test program")
            .arg(
                Arg::new("port-file")
                    .long("port-file")
                    .help("Where the port goes"),
            )
            .subcommand(Command::new("pingpong").arg(Arg::new("size").short('s')))
            .subcommand(Command::new("secret").hide(true))
    }

    fn man(cmd: &Command) -> String {
        let mut out = Vec::new();
        man_page(cmd, &mut out).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn the_man_page_has_the_flags_commands_and_exit_codes() {
        let page = man(&cmd());
        assert!(page.contains("\n.TH sockt 1 "), "{page}");
        for needed in [
            ".SH NAME",
            "port\\-file",
            ".SH \"SOCKT PINGPONG\"",
            ".SS SYNOPSIS",
            "\\fB\\-s\\fR",
            ".SH \"EXIT STATUS\"",
            ".TP\n64\nusage error",
            "\\fBsockd\\fR(1)",
        ] {
            assert!(page.contains(needed), "{needed:?} not in\n{page}");
        }
        assert!(!page.contains("SECRET"), "{page}");
    }

    #[test]
    fn roff_text_cannot_start_a_request() {
        assert_eq!(roff_text(".x"), "\\&.x");
        assert_eq!(roff_text("a\\b-c"), "a\\\\b\\-c");
    }
}
