//! The command line as a new user meets it: usage errors that name what is
//! wrong, the same conventions in all four programs, `--generate`.

use crate::util::{sockbench, sockc, sockd, sockstat};

#[test]
fn a_missing_argument_is_named() {
    sockc()
        .run()
        .fails_with(64, "sockc: missing <IP> and <PORT> (try --help)");
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
    out.fails_with(64, "sockd: unknown option \"--treads\" (try --help)")
        .stderr_has("hint: did you mean \"--threads\"?");
    sockbench()
        .args(["pingpng", "127.0.0.1", "1"])
        .run()
        .fails_with(64, "sockbench: unknown command \"pingpng\"")
        .stderr_has("hint: did you mean \"pingpong\"?");
}
