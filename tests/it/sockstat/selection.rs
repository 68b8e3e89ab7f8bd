//! What `--pid` and the other filters select: processes (not threads), and
//! rows, never a changed row.

use super::{OrDie, cell, fd_text, hand_over, inode_of, me, row_for, table_until, unix_pair};
use crate::util::listing::{Row, table};
use crate::util::{Cmd, sockstat};

#[test]
fn a_thread_id_selects_no_process() {
    let (listener, bound) = crate::util::net::bind_tcp("127.0.0.1").or_die("bind");
    sockkit::socket::listen(&listener, bound, 16).or_die("listen");
    // A thread of this process that is not its main one.
    let (tell, told) = std::sync::mpsc::channel();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = tell.send(rustix::thread::gettid().as_raw_nonzero().get());
        let _ = stopped.recv();
    });
    let tid = told.recv().or_die("thread id").to_string();
    assert_ne!(tid, me());
    let ours = |rows: &[Row]| -> Vec<Row> {
        rows.iter()
            .filter(|r| r["INODE"] == inode_of(&listener))
            .cloned()
            .collect()
    };
    let rows = ours(&table(&["--pid", &format!("{},{tid},{tid}", me())]));
    let [row] = &rows[..] else {
        panic!("one listener, listed {} times: {rows:#?}", rows.len());
    };
    assert_eq!(
        (row["PID"].as_str(), row["FD"].as_str()),
        (me().as_str(), fd_text(&listener).as_str())
    );
    let comm = std::fs::read_to_string("/proc/self/comm").or_die("comm");
    assert_eq!(row["COMMAND"], comm.trim_end_matches('\n'));
    let by_thread = table(&["--pid", &tid]);
    assert!(
        by_thread.is_empty(),
        "--pid {tid} (a thread): {by_thread:#?}"
    );
    drop(stop);
    let _ = thread.join();
}

#[test]
fn a_filter_selects_rows_and_never_changes_one() {
    let (ours, theirs) = unix_pair();
    let (child, fd) = hand_over(&theirs, Cmd::new("sleep").arg("60"), "sleep");
    drop(theirs);
    let peer = format!("-> [{} {fd}]", child.pid());
    let comm = std::fs::read_to_string("/proc/self/comm").or_die("comm");
    let comm = comm.trim_end_matches('\n');
    let me = me();
    for args in [
        &["-u"][..],
        &["--pid", &me],
        &["-u", "--pid", &me],
        &["-c", "--pid", &me],
        &["-u", "--comm", comm],
        &["--pid", &me, "--source", "netlink", "-e"],
    ] {
        // A child another test is spawning may hold copies of our fds for
        // a moment, and name our peer first: retried, with a deadline.
        let rows = table_until(args, |rows| {
            row_for(rows, &ours).is_some_and(|row| row["FOREIGN ADDRESS"] == peer)
        });
        assert_eq!(
            cell(&rows, &ours, "FOREIGN ADDRESS"),
            peer,
            "sockstat {args:?}"
        );
    }
    let out = sockstat().args(["-u", "--pid", &me, "--json"]).run();
    out.success().stderr_is("");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).or_die("json");
    let row = value
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["fd"].as_u64().map(|fd| fd.to_string()) == Some(fd_text(&ours)))
        .unwrap_or_else(|| panic!("no fd {} in {value}", fd_text(&ours)));
    assert_eq!(row["foreign"], peer.as_str(), "{row}");
}

#[test]
fn an_empty_command_name_is_a_question_mark() {
    let (ours, theirs) = unix_pair();
    // The shell empties its own comm (a NUL written to /proc/self/comm)
    // and then waits on its stdin, the socket (we never write to ours): a
    // process with an empty name.
    let shell = Cmd::new("sh").args(["-c", r#"printf '\000' >/proc/self/comm && read line"#]);
    let (child, fd) = hand_over(&theirs, shell, "");
    let inode = inode_of(&theirs);
    drop(theirs);
    let pid = child.pid().to_string();
    let out = sockstat().args(["--pid", &pid, "-q"]).run();
    out.success().stderr_is("");
    let text = out.stdout_text();
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some(fd.to_string().as_str()))
        .unwrap_or_else(|| panic!("no line for fd {fd}: {out}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    // USER COMMAND PID FD PROTO INODE LOCAL FOREIGN... : a blank command
    // would shift every column after it.
    assert_eq!(
        fields.get(1..6),
        Some(&["?", pid.as_str(), &fd.to_string(), "unix", &inode][..]),
        "{line}"
    );
    let rows = table(&["--pid", &pid]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["COMMAND"], "?");
    assert_eq!(
        rows[0]["FOREIGN ADDRESS"],
        format!("-> [{} {}]", me(), fd_text(&ours))
    );
    let out = sockstat().args(["--pid", &pid, "--json"]).run();
    out.success().stderr_is("");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).or_die("json");
    assert_eq!(value[0]["command"], serde_json::Value::Null, "{value}");
    drop(child);
}

/// `-a` adds the sockets no fd holds (a TIME_WAIT here); with `--pid` or
/// `--comm` none of them can be that process's, so none is listed.
#[test]
fn a_process_filter_keeps_holderless_sockets_out_even_with_a() {
    let (listener, port) = crate::util::net::listener();
    let client = crate::util::net::connect(port);
    let accepted = crate::util::net::accept(&listener);
    // The side that closes first lingers in TIME_WAIT, held by no fd. A
    // child another test is spawning can hold a copy of either fd until
    // its exec: the client's FIN is seen to arrive (EOF) before the
    // accepted end closes, and its TIME_WAIT is waited for.
    let client_port = crate::util::net::local_port(&client).to_string();
    drop(client);
    assert_eq!(
        crate::util::net::recv_upto(&accepted, 1),
        (Vec::new(), None),
        "EOF"
    );
    drop(accepted);
    // Other tests' sockets may share the port number; this one has both.
    let (ours, theirs) = (
        format!("127.0.0.1:{client_port}"),
        format!("127.0.0.1:{port}"),
    );
    let lingering = |rows: &[Row]| {
        rows.iter()
            .filter(|r| r["LOCAL ADDRESS"] == ours && r["FOREIGN ADDRESS"] == theirs)
            .filter(|r| r["STATE"] == "TIME_WAIT" && r["PID"] == "?")
            .count()
    };
    let all = table_until(&["-a", "-p", &client_port], |rows| lingering(rows) > 0);
    assert_eq!(lingering(&all), 1, "-a alone: {all:#?}");
    let comm = std::fs::read_to_string("/proc/self/comm").or_die("comm");
    for filter in [["--pid", &me()], ["--comm", comm.trim_end_matches('\n')]] {
        let rows = table(&[&filter[..], &["-a", "-p", &client_port]].concat());
        assert!(
            rows.iter().all(|r| r["PID"] == me()),
            "{filter:?} -a: {rows:#?}"
        );
    }
    drop(listener);
}
