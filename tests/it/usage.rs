//! The command line as a new user meets it: usage errors that name what is
//! wrong, the same conventions in all four programs, `--generate`.

use crate::util::net::{listener, refused_port};
use crate::util::{Cmd, TempDir, skip, sockbench, sockc, sockd, sockstat};

#[test]
fn a_missing_argument_is_named() {
    sockc()
        .run()
        .fails_with(64, "sockc: missing <HOST> and <PORT> (try --help)");
    sockc()
        .arg("127.0.0.1")
        .run()
        .fails_with(64, "sockc: missing <PORT> (try --help)");
    sockd()
        .arg("127.0.0.1")
        .run()
        .fails_with(64, "sockd: missing <PORT> (try --help)");
    sockbench()
        .args(["pingpong", "127.0.0.1"])
        .run()
        .fails_with(64, "sockbench: missing <PORT> (try --help)");
    sockbench().run().fails_with(
        64,
        "sockbench: missing a command: pingpong, churn, bulk or hold (try --help)",
    );
}

#[test]
fn a_bad_value_is_named_with_its_flag_in_double_quotes() {
    sockc()
        .args(["--wait", "soon", "127.0.0.1", "1", "x"])
        .run()
        .fails_with(64, "sockc: invalid --wait \"soon\": ");
    sockd()
        .args(["--threads", "0", "127.0.0.1", "0"])
        .run()
        .fails_with(64, "sockd: invalid --threads \"0\": ");
    sockstat().args(["--source", "x\u{1b}"]).run().fails_with(
        64,
        "sockstat: invalid --source \"x\\u{1b}\": expected netlink or proc",
    );
}

#[test]
fn an_unknown_option_is_named_with_what_was_meant() {
    let out = sockd().args(["--treads", "2", "127.0.0.1", "0"]).run();
    out.fails_with(
        64,
        "sockd: unknown option \"--treads\"; did you mean \"--threads\"? (try --help)",
    )
    .stderr_lines(1);
    sockbench()
        .args(["pingpng", "127.0.0.1", "1"])
        .run()
        .fails_with(
            64,
            "sockbench: unknown command \"pingpng\"; did you mean \"pingpong\"?",
        );
}

/// A program, its name, and the commands whose `--help` lists its flags.
struct Program {
    cmd: fn() -> Cmd,
    name: &'static str,
    commands: &'static [&'static [&'static str]],
}

const PROGRAMS: [Program; 4] = [
    Program {
        cmd: sockd,
        name: "sockd",
        commands: &[&[]],
    },
    Program {
        cmd: sockc,
        name: "sockc",
        commands: &[&[]],
    },
    Program {
        cmd: sockstat,
        name: "sockstat",
        commands: &[&[]],
    },
    Program {
        cmd: sockbench,
        name: "sockbench",
        commands: &[&[], &["pingpong"], &["bulk"]],
    },
];

/// The long flags a `--help` lists (`--port-file`, `--generate`, …).
fn long_flags(help: &str) -> Vec<String> {
    let mut flags: Vec<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(str::to_string)
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

impl Program {
    fn run(&self, args: &[&str]) -> crate::util::Outcome {
        (self.cmd)().args(args).run()
    }

    /// `--help` of the program and of its commands.
    fn helps(&self) -> Vec<String> {
        let help = |command: &&[&str]| {
            let out = self.run(&[*command, &["--help"][..]].concat());
            out.success().stdout_text()
        };
        self.commands.iter().map(help).collect()
    }

    /// Every long flag, from `--help` (and the commands' `--help`).
    fn flags(&self) -> Vec<String> {
        let flags: Vec<String> = self.helps().iter().flat_map(|h| long_flags(h)).collect();
        assert!(flags.len() >= 3, "{}: too few flags: {flags:?}", self.name);
        flags
    }
}

#[test]
fn generate_man_is_a_roff_page_naming_every_flag() {
    for program in &PROGRAMS {
        let name = program.name;
        let out = program.run(&["--generate", "man"]);
        out.success().stderr_is("");
        let page = out.stdout_text();
        assert!(
            page.contains(&format!("\n.TH {name} 1 ")),
            "{name}: no .TH\n{page}"
        );
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH \"EXIT STATUS\"",
        ] {
            assert!(page.contains(section), "{name}: no {section}\n{page}");
        }
        for flag in program.flags() {
            let roff = flag.replace('-', "\\-");
            assert!(page.contains(&roff), "{name}: man page lacks {flag}");
        }
    }
}

#[test]
fn generate_bash_is_a_script_bash_sources() {
    let dir = TempDir::new();
    for program in &PROGRAMS {
        let name = program.name;
        let out = program.run(&["--generate", "bash"]);
        out.success().stderr_is("");
        let script = dir.join(&format!("{name}.bash"));
        std::fs::write(&script, &out.stdout)
            .unwrap_or_else(|e| panic!("write {}: {e}", script.display()));
        Cmd::new("bash").arg("-n").arg(&script).run().success();
        let loaded = Cmd::new("bash")
            .args(["-c", "source \"$0\" && complete -p \"$1\""])
            .arg(&script)
            .arg(name)
            .run();
        loaded.success().stdout_has(&format!("-F _{name}"));
        let text = out.stdout_text();
        for flag in program.flags() {
            assert!(text.contains(&flag), "{name}: bash completion lacks {flag}");
        }
        for hidden in ["--detached", "free-port"] {
            assert!(!text.contains(hidden), "{name}: completes hidden {hidden}");
        }
    }
}

#[test]
fn generate_zsh_and_fish_complete_every_flag() {
    for program in &PROGRAMS {
        let name = program.name;
        let flags = program.flags();
        for (shell, marker) in [
            ("zsh", format!("#compdef {name}")),
            ("fish", format!("complete -c {name}")),
        ] {
            let out = program.run(&["--generate", shell]);
            out.success().stderr_is("").stdout_has(&marker);
            let text = out.stdout_text();
            for flag in &flags {
                let fish_form = format!("-l {}", &flag[2..]);
                assert!(
                    text.contains(flag.as_str()) || text.contains(&fish_form),
                    "{name}: {shell} completion lacks {flag}"
                );
            }
        }
    }
}

#[test]
fn generate_takes_only_its_kinds_and_stands_alone() {
    sockd().args(["--generate", "troff"]).run().fails_with(
        64,
        "sockd: invalid --generate \"troff\": expected man, bash, zsh or fish",
    );
    sockc()
        .args(["--generate", "man", "127.0.0.1", "1"])
        .run()
        .fails_with(64, "sockc: ")
        .stderr_has("--generate cannot be used with other arguments");
}

#[test]
fn every_program_names_itself_in_its_version() {
    for program in &PROGRAMS {
        let out = program.run(&["--version"]);
        out.success()
            .stdout_is(format!("{} {}\n", program.name, env!("CARGO_PKG_VERSION")).as_bytes());
    }
}

const VERBOSE: &str = "More diagnostics on stderr: -v info, -vv debug (RUST_LOG overrides)";

#[test]
fn one_help_layout_in_every_program() {
    for program in &PROGRAMS {
        for command in program.commands {
            let short = program.run(&[*command, &["-h"][..]].concat());
            let long = program.run(&[*command, &["--help"][..]].concat());
            let help = short.success().stdout_text();
            assert_eq!(help, long.success().stdout_text(), "-h and --help differ");
            let usage = format!(
                "\n\nUsage: {}",
                [&[program.name], *command].concat().join(" ")
            );
            assert!(help.contains(&usage), "no {usage:?} in\n{help}");
            assert!(help.contains("\n  -h, --help "), "{help}");
            let verbose = help.lines().find(|line| line.contains("-v, --verbose..."));
            let loads = !(program.name == "sockbench" && command.is_empty());
            assert!(
                verbose.is_some_and(|line| line.ends_with(VERBOSE)) || !loads,
                "-v not {VERBOSE:?}\n{help}"
            );
            // One line per option, its text capitalized (no blank-line
            // separated long form).
            let options = help.split("\nOptions:\n").nth(1).unwrap_or_default();
            for line in options.lines() {
                let (_, text) = line.trim_start().split_once("  ").unwrap_or_default();
                let first = text.trim_start().chars().next().unwrap_or('?');
                assert!(
                    !first.is_lowercase(),
                    "{}: lowercase help {line:?}",
                    program.name
                );
                assert!(
                    line.starts_with("  "),
                    "{}: {line:?} in\n{help}",
                    program.name
                );
            }
        }
    }
}

#[test]
fn bad_values_are_quoted_one_way_everywhere() {
    let bad: [(Cmd, &str); 6] = [
        (
            sockstat().args(["-p", "22,x"]),
            "sockstat: invalid -p \"22,x\": bad port \"x\": ",
        ),
        (sockstat().args(["-P", "sctp"]), "bad protocol \"sctp\": "),
        (sockstat().args(["--pid", "0"]), "bad pid \"0\": "),
        (
            sockbench().args(["pingpong", "127.0.0.1", "7", "-d", "nan"]),
            "sockbench: invalid --duration \"nan\": ",
        ),
        (
            sockc().args(["127.0.0.1", "http", "x"]),
            "sockc: invalid port \"http\": ",
        ),
        (
            sockd().args(["--idle-timeout", "soon", "127.0.0.1", "0"]),
            "sockd: invalid --idle-timeout \"soon\": ",
        ),
    ];
    for (cmd, needle) in bad {
        let out = cmd.run();
        out.fails_with(64, needle);
        assert!(!out.stderr.contains('\''), "single quotes\n{out}");
    }
}

#[test]
fn quiet_sockd_still_says_where_it_listens_and_that_it_stopped() {
    let server = sockd()
        .args(["-q", "--exit-after", "1", "127.0.0.1", "0"])
        .serve();
    assert_eq!(crate::util::net::round_trip(server.port(), b"hi"), b"hi");
    let stopped = server.wait_exit();
    stopped.success().stdout_is(b"");
    stopped
        .stderr_starts_with("sockd: listening on 127.0.0.1:")
        .stderr_has("\nsockd: stopped: 1 connection, 2 bytes received\n")
        .stderr_lines(2);
}

#[test]
fn a_refusal_after_wait_says_how_long_it_waited() {
    let (_held, port) = refused_port();
    let port = port.to_string();
    let out = sockc()
        .args(["--wait", "0.3", "127.0.0.1", &port, "hi"])
        .run();
    out.fails_with(
        69,
        &format!("sockc: connect 127.0.0.1:{port}: connection refused (ECONNREFUSED)"),
    )
    .stderr_has(&format!(
        "\nhint: nothing listened on 127.0.0.1:{port} during the 0.3 s of --wait"
    ));
    assert!(!out.stderr.contains("pass --wait"), "{out}");
}

#[test]
fn a_timeout_names_timeout_in_both_modes() {
    // Listening, never accepting: the handshake completes, no reply comes.
    let (_listener, port) = listener();
    let port = port.to_string();
    let args = ["--timeout", "0.5", "127.0.0.1", &port];
    for (out, op) in [
        (sockc().args(args).arg("hi").run(), "recv"),
        (sockc().args(args).stdin_bytes("hi\n").run(), "recv"),
    ] {
        out.fails_with(
            75,
            &format!("sockc: {op} 127.0.0.1:{port}: connection timed out (ETIMEDOUT)"),
        )
        .stderr_has(&format!(
            "\nhint: no progress with 127.0.0.1:{port} for 0.5 s (--timeout)"
        ));
    }
}

#[test]
fn an_address_not_on_this_host_is_eaddrnotavail_with_a_hint() {
    if !skip::require_root() || !skip::require_tool("unshare") {
        return;
    }
    // A network namespace of the test's own, its lo down: not even ::1 is
    // an address of this "host" there.
    let out = sockd().wrap(["unshare", "-n"]).args(["::1", "0"]).run();
    out.fails_with(
        71,
        "sockd: bind [::1]:0: cannot assign requested address (EADDRNOTAVAIL)",
    )
    .stderr_has("\nhint: ::1 is not an address of this host; `ip addr` lists them");
}

#[test]
fn a_duration_past_a_year_says_a_year_is_the_limit() {
    sockc()
        .args(["--timeout", "1000000000", "127.0.0.1", "1", "x"])
        .run()
        .fails_with(
            64,
            "sockc: invalid --timeout \"1000000000\": expected at most a year (31536000 seconds)",
        );
    sockd()
        .args(["--idle-timeout", "0", "127.0.0.1", "0"])
        .run()
        .fails_with(
            64,
            "sockd: invalid --idle-timeout \"0\": expected a number of seconds greater than 0",
        );
}

#[test]
fn sockc_options_go_anywhere_before_the_double_dash() {
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let port = server.port_arg();
    let sent = |args: &[&str]| sockc().args(["127.0.0.1", &port]).args(args).run();
    sent(&["hi", "--timeout", "3"]).success().stdout_is(b"hi");
    sent(&["hi", "-q", "there"])
        .success()
        .stdout_is(b"hi there");
    sent(&["--", "hi", "--timeout", "-q"])
        .success()
        .stdout_is(b"hi --timeout -q");
    // After the message, an option is still parsed, so its value is checked.
    sent(&["hi", "--timeout", "0"]).fails_with(64, "sockc: invalid --timeout \"0\": ");
    sent(&["hi", "-x"]).fails_with(64, "sockc: unknown option \"-x\"");
}

#[test]
fn a_client_cannot_connect_to_port_0_and_the_ip_is_checked_first() {
    let zero = "invalid port \"0\": a client cannot connect to port 0";
    sockc()
        .args(["127.0.0.1", "0", "hi"])
        .run()
        .fails_with(64, &format!("sockc: {zero}"));
    sockc()
        .args(["127.0.0.1", "0"])
        .stdin_bytes("hi\n")
        .run()
        .fails_with(64, &format!("sockc: {zero}"));
    sockbench()
        .args(["pingpong", "127.0.0.1", "0"])
        .run()
        .fails_with(64, &format!("sockbench: {zero}"));
    sockc()
        .args(["999.1.1.1", "99999", "hi"])
        .run()
        .fails_with(64, "sockc: invalid address \"999.1.1.1\"");
    sockd()
        .args(["999.1.1.1", "99999"])
        .run()
        .fails_with(64, "sockd: invalid address \"999.1.1.1\"");
}

#[test]
fn chat_refuses_the_options_that_mean_nothing_in_chat_mode() {
    for (args, line) in [
        (
            ["--chat", "--threads", "2"],
            "sockd: --chat cannot be used with --threads",
        ),
        (
            ["--max-conns", "2", "--chat"],
            "sockd: --max-conns cannot be used with --chat",
        ),
    ] {
        sockd()
            .args(args)
            .args(["127.0.0.1", "0"])
            .limit(std::time::Duration::from_secs(10))
            .run()
            .fails_with(64, line);
    }
}

#[test]
fn verbose_sockc_says_what_it_connected_to_and_from_where() {
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let port = server.port_arg();
    let out = sockc().args(["-v", "127.0.0.1", &port, "hi"]).run();
    out.success().stdout_is(b"hi");
    let from = format!("sockc: connected to 127.0.0.1:{port} from 127.0.0.1:");
    let local = out
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix(&from))
        .and_then(|local| local.parse::<u16>().ok());
    assert!(
        local.is_some_and(|local| local > 0 && local.to_string() != port),
        "no {from:?}PORT line\n{out}"
    );
    sockc()
        .args(["127.0.0.1", &port, "hi"])
        .run()
        .success()
        .stderr_is("");
}

#[test]
fn very_verbose_sockd_logs_accepts_and_closes_with_bytes() {
    let server = sockd()
        .args(["-vv", "--exit-after", "1", "127.0.0.1", "0"])
        .serve();
    let client = crate::util::net::connect(server.port());
    let peer = sockkit::socket::local_addr(&client).unwrap_or_else(|e| panic!("getsockname: {e}"));
    assert_eq!(crate::util::net::exchange(&client, b"hello"), b"hello");
    let stopped = server.wait_exit();
    stopped
        .success()
        .stderr_has(&format!("\nsockd: accepted {peer}\n"))
        .stderr_has(&format!(
            "\nsockd: closed {peer}: 5 bytes in, 5 bytes out\n"
        ));
    let quieter = sockd()
        .args(["-v", "--exit-after", "1", "127.0.0.1", "0"])
        .serve();
    assert_eq!(crate::util::net::round_trip(quieter.port(), b"x"), b"x");
    let stopped = quieter.wait_exit();
    assert!(
        !stopped.stderr.contains("accepted"),
        "-v logs accepts\n{stopped}"
    );
}

/// What `-v` and `-vv` say is in words: no `Some(1024)`, no
/// `Some(Error(Os { code: 111, .. }))` from a relay's refused upstream.
#[test]
fn diagnostics_carry_no_rust_debug_text() {
    if !crate::util::skip::require_tool("prlimit") {
        return;
    }
    let (_bound, refusing) = crate::util::net::refused_port();
    let relay = sockd()
        .wrap(["prlimit", "--nofile=1024:4096"])
        .args(["-q", "-vv", "--exit-after", "1", "127.0.0.1", "0"])
        .args(["--forward", &format!("127.0.0.1:{refusing}")])
        .serve();
    let _ = crate::util::net::connect_unless_reset(relay.port());
    let stopped = relay.wait_exit();
    stopped
        .success()
        .stderr_has("sockd: RLIMIT_NOFILE raised from 1024 to 4096\n")
        .stderr_has("(ECONNREFUSED); resetting client");
    for debug in ["Some(", "None", "Os {", "Error("] {
        assert!(!stopped.stderr.contains(debug), "{debug:?} in\n{stopped}");
    }
}

/// `--events -` needs `-q` (stdout is the events'): `-v` still decides
/// what diagnostics stderr gets, and `-q` still keeps the transcript off.
#[test]
fn v_given_with_q_still_logs_and_q_still_silences_the_transcript() {
    let server = sockd()
        .args([
            "-q",
            "-vv",
            "--events",
            "-",
            "--exit-after",
            "1",
            "127.0.0.1",
            "0",
        ])
        .serve();
    let client = crate::util::net::connect(server.port());
    let peer = sockkit::socket::local_addr(&client).unwrap_or_else(|e| panic!("getsockname: {e}"));
    assert_eq!(crate::util::net::exchange(&client, b"hello\n"), b"hello\n");
    let stopped = server.wait_exit();
    stopped
        .success()
        .stderr_has(&format!("\nsockd: accepted {peer}\n"));
    assert!(!stopped.stdout_text().contains(" say: "), "{stopped}");
    assert!(
        stopped.stdout_text().contains("\"event\":\"accept\""),
        "{stopped}"
    );
    // sockc: -v's "connected" line though -q is given.
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    sockc()
        .args(["-q", "-v", "127.0.0.1", &server.port_arg(), "hi"])
        .run()
        .success()
        .stdout_is(b"hi")
        .stderr_has("connected");
}

#[test]
fn one_connection_is_one_connection_in_sockbench_too() {
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let port = server.port_arg();
    for (load, what) in [
        ("pingpong", "1 connection, 64 B requests"),
        ("hold", "1 connection held, 64 B requests"),
    ] {
        sockbench()
            .args([load, "127.0.0.1", &port, "-c", "1", "-d", "0.2"])
            .run()
            .success()
            .stdout_has(&format!("{load} tcp 127.0.0.1:{port}: {what}, "));
    }
}

/// The flags a `--help` lists, short and long (`-q`, `--quiet`, `-p`).
fn option_names(help: &str) -> Vec<String> {
    help.split("\nOptions:\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .flat_map(|line| {
            let names = line.trim_start().split("  ").next().unwrap_or_default();
            names
                .split([',', ' '])
                .filter(|word| word.starts_with('-'))
                .map(|word| word.trim_end_matches("...").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_docs_describe_every_flag_of_every_program() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for program in &PROGRAMS {
        let page = docs.join(format!("{}.md", program.name));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("read {}: {e}", page.display()));
        let mut flags: Vec<String> = program
            .helps()
            .iter()
            .flat_map(|h| option_names(h))
            .collect();
        flags.dedup();
        assert!(flags.len() >= 5, "{}: {flags:?}", program.name);
        for flag in flags {
            assert!(
                text.contains(&format!("`{flag}")),
                "{} does not describe {flag}",
                page.display()
            );
        }
    }
}

#[test]
fn nothing_in_the_repository_points_outside_it() {
    // Spelled in pieces, so that this file does not name them itself.
    let outside = [concat!("SPEC", ".md"), concat!("../", "shared")];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pending = vec![root.to_path_buf()];
    let mut files = 0;
    while let Some(path) = pending.pop() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && name != ".git" {
                let entries = std::fs::read_dir(&path)
                    .unwrap_or_else(|e| panic!("read_dir {}: {e}", path.display()));
                pending.extend(entries.filter_map(|entry| entry.ok()).map(|e| e.path()));
            }
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        files += 1;
        for needle in outside {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} mentions {needle}",
                path.display()
            );
        }
    }
    assert!(files > 50, "only {files} files walked");
}

/// The README's `sh` blocks in the section titled `title`.
fn readme_blocks(title: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("README.md: {e}"));
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with(title))
        .unwrap_or_else(|| panic!("README.md has no section {title:?}"));
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(code, _)| code.to_string()))
        .collect()
}

#[test]
fn the_readmes_transport_block_runs_as_written() {
    let blocks = readme_blocks("In scripts");
    let block = blocks
        .iter()
        .find(|block| block.contains("sockd -q --background --pid-file /tmp/udp.pid -u"))
        .unwrap_or_else(|| panic!("no UDP and unix block: {blocks:?}"));
    let dir = TempDir::new();
    // A stale socket file where the block serves, for --unlink to replace.
    let endpoint = sockkit::Endpoint::unix(sockkit::endpoint::Kind::Stream, dir.join("echo.sock"))
        .unwrap_or_else(|e| panic!("{e}"));
    drop(sockkit::bind_socket(&endpoint).unwrap_or_else(|e| panic!("{e}")));
    let bin = std::path::Path::new(crate::util::SOCKD)
        .parent()
        .unwrap_or_else(|| panic!("no directory in {}", crate::util::SOCKD));
    // As written, in the test's directory instead of /tmp.
    let script = format!(
        "set -e\ncd \"$0\"\n{}\necho \"udp=$udp sock=$sock\"\n\
         while [ -e ./echo.sock ]; do sleep 0.01; done\n",
        block.replace("/tmp/", "./")
    );
    let out = Cmd::new("bash")
        .args(["-c", &script])
        .arg(dir.join(""))
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .limit(std::time::Duration::from_secs(20))
        .run();
    out.success();
    let shown = out.stdout_text();
    let port = shown
        .strip_prefix("udp=")
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(port, _)| port.parse::<u16>().ok());
    assert!(port.is_some_and(|port| port > 0), "{out}");
    assert!(shown.ends_with(" sock=./echo.sock\n"), "{out}");
}

#[test]
fn the_readme_puts_the_programs_on_path_before_using_them() {
    let first = readme_blocks("The two commands");
    assert!(
        first
            .first()
            .is_some_and(|block| block.contains("cargo install --locked --path .")),
        "the server command does not install the programs: {first:?}"
    );
}

#[test]
fn the_readmes_script_patterns_run_as_written_and_read_no_stale_port() {
    let blocks = readme_blocks("In scripts");
    assert!(blocks.len() >= 2, "{blocks:?}");
    let dir = TempDir::new();
    let bin = std::path::Path::new(crate::util::SOCKD)
        .parent()
        .unwrap_or_else(|| panic!("no directory in {}", crate::util::SOCKD));
    // A server slow to start, so that a pattern which could read the stale
    // file below does read it (a fast sockd replaces it before `cat` runs).
    let slow = dir.join("slow");
    std::fs::create_dir(&slow).unwrap_or_else(|e| panic!("mkdir slow: {e}"));
    let wrapper = format!(
        "#!/bin/sh\nsleep 0.3\nexec '{}' \"$@\"\n",
        crate::util::SOCKD
    );
    std::fs::write(slow.join("sockd"), wrapper).unwrap_or_else(|e| panic!("slow/sockd: {e}"));
    Cmd::new("chmod")
        .arg("+x")
        .arg(slow.join("sockd"))
        .run()
        .success();
    let path = format!(
        "{}:{}:{}",
        slow.display(),
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let input = crate::util::random_bytes(100_000, 7);
    std::fs::write(dir.join("in.bin"), &input).unwrap_or_else(|e| panic!("in.bin: {e}"));
    // A port file an earlier run left behind, which the pattern must not
    // read as this server's.
    std::fs::write(dir.join("echo.port"), "1\n").unwrap_or_else(|e| panic!("echo.port: {e}"));
    // As written, but for the pid file, which goes in the test's directory
    // (another run of this test could be using /tmp/echo.pid meanwhile).
    let background = blocks[0].replace("/tmp/echo.pid", "./echo.pid");
    let script = format!(
        "set -e\ncd \"$0\"\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{background}\n{}\n\
         sockc 127.0.0.1 \"$port\" ok\n",
        blocks[1]
    );
    let out = Cmd::new("bash")
        .args(["-c", &script])
        .arg(dir.join(""))
        .env("PATH", path)
        .limit(std::time::Duration::from_secs(20))
        .run();
    out.success();
    let copied = std::fs::read(dir.join("out.bin")).unwrap_or_default();
    crate::util::assert_same_bytes(&copied, &input, "out.bin");
    // The reused path gave the new server's port: it answered.
    assert!(out.stdout_text().ends_with("ok"), "{out}");
}
