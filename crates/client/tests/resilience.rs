//! A stalled systemd and a dead dbus-daemon give typed errors within the deadline, and the
//! client recovers when they are back.

mod common;

use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;
use sdbus_cgroup::{Error, Options, Scope, Step, Timeouts};

/// Step deadlines with an operation deadline above their sum, so each test below meets
/// the step it is about.
fn steps(connect: Duration, call: Duration, job: Duration) -> Timeouts {
    Timeouts::default()
        .connect(connect)
        .call(call)
        .job(job)
        .operation(connect + call + job + Duration::from_secs(1))
}

#[test]
fn sigstopped_systemd_gives_a_timeout_within_deadline_plus_one_second_then_recovers() {
    let sb = boot();
    let deadline = Duration::from_secs(2);
    let opts = options(&sb).with_timeouts(steps(Duration::from_secs(10), deadline, deadline));
    let c = client(&sb, opts);
    let mut child = sleeper(&sb);
    let unit = "stalled.scope";

    signal(sb.pid(), Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    let t0 = Instant::now();
    let e = c
        .start_scope(&Scope::new(unit, vec![child.pid()]))
        .unwrap_err();
    let took = t0.elapsed();
    match &e {
        Error::Timeout {
            unit: u,
            step: Step::StartTransientUnit,
            after,
        } => {
            assert_eq!(u.as_deref(), Some(unit));
            assert_eq!(*after, deadline);
        }
        other => panic!("expected a StartTransientUnit timeout, got {other:?}"),
    }
    assert!(took <= deadline + Duration::from_secs(1), "took {took:?}");
    assert!(
        e.to_string().contains(unit) && e.to_string().contains("StartTransientUnit"),
        "{e}"
    );
    let s = c.stats();
    assert_eq!(
        s.quarantined, 1,
        "the timed-out call's cookie stays reserved: {s:?}"
    );
    assert_eq!(s.timeouts, 1);

    signal(sb.pid(), Signal::SIGCONT);
    drop(cont);
    // The next call works on the same connection...
    let path = c.unit_path(unit).expect("first call after SIGCONT");
    // ...and the late reply to the stalled call released its cookie, counted, not delivered.
    assert!(
        eventually(Duration::from_secs(10), || c.stats().quarantined == 0),
        "late reply never released the quarantine: {:?}",
        c.stats()
    );
    let s = c.stats();
    assert_eq!((s.late_replies, s.pending, s.connects), (1, 0, 1), "{s:?}");
    // systemd did create the scope once it woke up; clean it. Its start job may still be
    // queued (a loaded machine): a StopUnit now would cancel it before the sleeper is
    // moved in, and the sleeper would outlive the stop. So wait for the job first.
    assert!(
        path.is_some(),
        "the stalled StartTransientUnit ran after SIGCONT"
    );
    assert!(
        eventually(Duration::from_secs(10), || c
            .unit_state(unit, "ActiveState")
            .is_ok_and(|s| s == "active")),
        "the scope never became active: {:?}",
        c.unit_state(unit, "ActiveState")
    );
    c.stop(unit).unwrap();
    child.wait().unwrap();
}

#[test]
fn sigstopped_systemd_during_the_job_wait_names_the_job_step() {
    let sb = boot();
    let deadline = Duration::from_secs(2);
    let c = client(
        &sb,
        options(&sb).with_timeouts(steps(
            Duration::from_secs(10),
            Duration::from_secs(10),
            deadline,
        )),
    );
    let mut child = sleeper(&sb);
    c.start_scope(&Scope::new("jobwait.scope", vec![child.pid()]))
        .unwrap();
    // StopUnit is answered at once with a job; stopping systemd right after the reply
    // would race, so stop it before and let the call's own deadline be long: the call
    // itself then times out (StopUnit). Either step is typed; neither hangs.
    signal(sb.pid(), Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    let t0 = Instant::now();
    let e = c.stop("jobwait.scope").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                step: Step::StopUnit | Step::JobWait,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(t0.elapsed() <= Duration::from_secs(10) + Duration::from_secs(1));
    drop(cont);
    assert!(eventually(Duration::from_secs(10), || c
        .unit_path("jobwait.scope")
        .ok()
        == Some(None)));
    child.wait().unwrap();
}

#[test]
fn killed_dbus_daemon_is_a_typed_error_and_the_client_reconnects_when_it_is_back() {
    let sb = boot();
    let c = client(
        &sb,
        options(&sb).with_timeouts(steps(
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(10),
        )),
    );
    let before = c.stats();
    assert_eq!(before.connects, 1);
    let daemon = dbus_daemon_pid(&sb).expect("the sandbox's dbus-daemon");

    // A call in flight when the daemon dies: stall systemd so the call is still waiting.
    signal(sb.pid(), Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    let e = std::thread::scope(|s| {
        let h = s.spawn(|| c.unit_path("anything.scope"));
        std::thread::sleep(Duration::from_millis(300));
        signal(daemon, Signal::SIGKILL);
        h.join().unwrap()
    });
    match &e {
        Err(Error::Disconnected {
            step: Step::GetUnit,
            unit,
            ..
        }) => assert_eq!(unit.as_deref(), Some("anything.scope")),
        other => panic!("expected Disconnected at GetUnit, got {other:?}"),
    }
    assert!(!c.stats().connected);
    signal(sb.pid(), Signal::SIGCONT);
    drop(cont);

    // The bus socket is still systemd's (socket activation brings dbus-daemon back on the
    // next connect); until systemd is on the bus again, attempts fail with typed errors.
    let mut errors = Vec::new();
    let ok = eventually(Duration::from_secs(20), || {
        match c.unit_path("anything.scope") {
            Ok(p) => {
                assert_eq!(p, None);
                true
            }
            Err(e) => {
                assert!(
                    e.is_disconnected() || e.dbus_name().is_some(),
                    "untyped failure: {e:?}"
                );
                errors.push(e.to_string());
                false
            }
        }
    });
    assert!(ok, "never reconnected; errors: {errors:?}");
    let s = c.stats();
    assert!(
        s.connected && s.connects >= 2 && s.disconnects >= 1,
        "{s:?}"
    );
    assert_ne!(
        dbus_daemon_pid(&sb),
        Some(daemon),
        "a new dbus-daemon serves the bus"
    );
    // And a full lifecycle works on the new connection.
    let mut child = sleeper(&sb);
    c.start_scope(&Scope::new("after.scope", vec![child.pid()]))
        .unwrap();
    c.stop("after.scope").unwrap();
    child.wait().unwrap();
    assert_eq!(c.stats().pending, 0);
}

#[test]
fn nothing_listening_is_a_typed_connect_error_within_the_deadline() {
    let c = sdbus_cgroup::Client::new(
        sdbus_cgroup::Target::Address {
            address: "unix:path=/run/sdbus-cgroup-none/x".into(),
            direct: false,
        },
        Options::default(),
    );
    let e = c.version().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Connect {
                step: Step::Connect,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn reconnecting_to_a_stalled_systemd_fails_typed_within_the_connect_deadline() {
    let sb = boot();
    let connect = Duration::from_secs(2);
    let c = client(
        &sb,
        options(&sb).with_timeouts(steps(
            connect,
            Duration::from_secs(10),
            Duration::from_secs(10),
        )),
    );
    c.disconnect();
    signal(sb.pid(), Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    let t0 = Instant::now();
    let e = c.unit_path("x.scope").unwrap_err();
    let took = t0.elapsed();
    // Hello/AddMatch/GetNameOwner are answered by dbus-daemon; Version needs systemd.
    assert!(
        matches!(
            &e,
            Error::Connect {
                step: Step::Version,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        took <= connect + Duration::from_secs(1),
        "took {took:?} for a {connect:?} deadline"
    );
    signal(sb.pid(), Signal::SIGCONT);
    drop(cont);
    assert_eq!(
        c.unit_path("x.scope").unwrap(),
        None,
        "works again after SIGCONT"
    );
}

#[test]
fn private_socket_from_outside_the_pid_namespace_is_a_typed_connect_error() {
    // systemd's sd-bus server refuses AUTH EXTERNAL from a peer whose pid it cannot see
    // (ours, from the host's PID namespace): a typed error, not a hang.
    let sb = boot();
    let address = format!("unix:path={}", sb.private_socket().display());
    let opts = options(&sb).with_timeouts(steps(
        Duration::from_secs(3),
        Duration::from_secs(3),
        Duration::from_secs(3),
    ));
    let c = sdbus_cgroup::Client::new(
        sdbus_cgroup::Target::Address {
            address,
            direct: true,
        },
        opts,
    );
    let e = c.version().unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert_eq!(
        c.stats().calls,
        0,
        "nothing was sent before the handshake failed"
    );
}

/// One deadline bounds the whole operation: with systemd stalled, a `start_scope` whose
/// call and job deadlines would allow 20 s ends at the operation's 1 s, as a timeout of
/// the operation naming the unit, and the client works again once systemd is back.
#[test]
fn operation_timeout_bounds_a_whole_start_scope_below_its_steps_deadlines() {
    let sb = boot();
    let operation = Duration::from_secs(1);
    let opts = options(&sb).with_timeouts(
        Timeouts::default()
            .connect(Duration::from_secs(10))
            .call(Duration::from_secs(10))
            .job(Duration::from_secs(10))
            .operation(operation),
    );
    let c = client(&sb, opts);
    let child = sleeper(&sb);
    let unit = "bounded.scope";

    signal(sb.pid(), Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    let t0 = Instant::now();
    let e = c
        .start_scope(&Scope::new(unit, vec![child.pid()]))
        .unwrap_err();
    let took = t0.elapsed();
    match &e {
        Error::Timeout {
            unit: u,
            step: Step::Operation,
            after,
        } => {
            assert_eq!(u.as_deref(), Some(unit));
            assert_eq!(*after, operation);
        }
        other => panic!("expected the operation's timeout, got {other:?}"),
    }
    assert!(took <= operation + Duration::from_secs(1), "took {took:?}");
    signal(sb.pid(), Signal::SIGCONT);
    drop(cont);
    // The abandoned call's late reply is absorbed; the next operation works.
    c.stop(unit).expect("stop after SIGCONT");
}
