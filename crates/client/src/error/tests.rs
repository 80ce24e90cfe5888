//! The rules errors follow, each checked with the literal names systemd and D-Bus use:
//! job results from systemd's `job_result_table` (`src/core/job.c`), error names from its
//! `src/libsystemd/sd-bus/bus-common-errors.h`, steps named by the Manager's D-Bus members.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{job_outcome, BusError, Cause, Error, InputError, Step};
use crate::Unconverted;

const JOB: &str = "/org/freedesktop/systemd1/job/4711";

/// The error and its sources, `: `-separated, as a caller that prints the chain reads it.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        line = format!("{line}: {s}");
        next = s.source();
    }
    line
}

#[test]
fn a_start_job_that_ends_failed_is_a_job_failed_error() {
    // What systemd sends when a scope's processes are gone before it starts
    // (scope_enter_running(): SCOPE_FAILURE_RESOURCES, so the job ends JOB_FAILED).
    let e = job_outcome("web.scope", JOB, "web.scope".into(), "failed".into()).unwrap_err();
    match e {
        Error::JobFailed { unit, job, result } => {
            assert_eq!(unit, "web.scope");
            assert_eq!(job, JOB);
            assert_eq!(result, "failed");
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
}

#[test]
fn only_the_job_result_done_is_success() {
    assert!(job_outcome("a.scope", JOB, "a.scope".into(), "done".into()).is_ok());
    // systemd v241's job_result_table without "done", and a result from a later release.
    for result in [
        "canceled",
        "timeout",
        "failed",
        "dependency",
        "skipped",
        "invalid",
        "assert",
        "unsupported",
        "collected",
        "once",
        "frozen",
    ] {
        match job_outcome("a.scope", JOB, "a.scope".into(), result.into()) {
            Err(Error::JobFailed { result: r, .. }) => assert_eq!(r, result),
            other => panic!("result {result:?}: expected JobFailed, got {other:?}"),
        }
    }
}

#[test]
fn a_job_signal_naming_no_unit_is_blamed_on_the_unit_asked_for() {
    match job_outcome("asked.scope", JOB, String::new(), "canceled".into()) {
        Err(Error::JobFailed { unit, .. }) => assert_eq!(unit, "asked.scope"),
        other => panic!("expected JobFailed, got {other:?}"),
    }
    match job_outcome("asked.scope", JOB, "named.scope".into(), "canceled".into()) {
        Err(Error::JobFailed { unit, .. }) => assert_eq!(unit, "named.scope"),
        other => panic!("expected JobFailed, got {other:?}"),
    }
}

#[test]
fn steps_are_named_by_their_dbus_members() {
    let names = [
        (Step::Connect, "connect"),
        (Step::Hello, "Hello"),
        (Step::AddMatch, "AddMatch"),
        (Step::GetNameOwner, "GetNameOwner"),
        (Step::Subscribe, "Subscribe"),
        (Step::Version, "Version"),
        (Step::StartTransientUnit, "StartTransientUnit"),
        (Step::JobWait, "JobRemoved wait"),
        (Step::StopUnit, "StopUnit"),
        (Step::ResetFailedUnit, "ResetFailedUnit"),
        (Step::SetUnitProperties, "SetUnitProperties"),
        (Step::AttachProcessesToUnit, "AttachProcessesToUnit"),
        (Step::FreezeUnit, "FreezeUnit"),
        (Step::ThawUnit, "ThawUnit"),
        (Step::KillUnit, "KillUnit"),
        (Step::GetUnit, "GetUnit"),
        (Step::GetProperty, "Properties.Get"),
        (Step::Ping, "Ping"),
    ];
    for (step, name) in names {
        assert_eq!(step.as_str(), name);
        assert_eq!(step.to_string(), name);
    }
}

fn dbus(unit: &str, name: &str) -> Error {
    Error::Dbus {
        unit: crate::error::unit_of(unit),
        step: Step::StartTransientUnit,
        name: name.into(),
        message: "Unit web.scope already exists.".into(),
    }
}

#[test]
fn no_such_unit_and_unit_exists_are_systemds_error_names() {
    let no_such = dbus("web.scope", "org.freedesktop.systemd1.NoSuchUnit");
    let exists = dbus("web.scope", "org.freedesktop.systemd1.UnitExists");
    let other = dbus("web.scope", "org.freedesktop.DBus.Error.AccessDenied");
    assert!(no_such.is_no_such_unit() && !no_such.is_unit_exists());
    assert!(exists.is_unit_exists() && !exists.is_no_such_unit());
    assert!(!other.is_no_such_unit() && !other.is_unit_exists());
    assert_eq!(
        other.dbus_name(),
        Some("org.freedesktop.DBus.Error.AccessDenied")
    );
    let timeout = Error::Timeout {
        unit: Some("web.scope".into()),
        step: Step::StopUnit,
        after: Duration::from_secs(1),
    };
    assert_eq!(timeout.dbus_name(), None);
    assert!(!timeout.is_no_such_unit() && !timeout.is_unit_exists());
}

#[test]
fn a_timeout_is_not_a_disconnect_and_a_failed_connect_is_one() {
    let timeout = Error::Timeout {
        unit: None,
        step: Step::JobWait,
        after: Duration::from_secs(1),
    };
    let lost = Error::Disconnected {
        unit: None,
        step: Step::StopUnit,
        cause: Cause::Detail("Broken pipe".into()),
    };
    let connect = Error::Connect {
        target: "/run/systemd/private".into(),
        step: Step::Hello,
        cause: Cause::Detail("Connection refused".into()),
    };
    let answered = dbus("", "org.freedesktop.systemd1.NoSuchUnit");
    assert!(timeout.is_timeout() && !timeout.is_disconnected());
    assert!(lost.is_disconnected() && !lost.is_timeout());
    assert!(connect.is_disconnected() && !connect.is_timeout());
    assert!(!answered.is_disconnected() && !answered.is_timeout());
}

#[test]
fn error_messages_name_the_unit_the_step_and_the_dbus_error() {
    let m = dbus("web.scope", "org.freedesktop.systemd1.UnitExists").to_string();
    for part in [
        " for web.scope",
        "StartTransientUnit",
        "org.freedesktop.systemd1.UnitExists",
        "Unit web.scope already exists.",
    ] {
        assert!(m.contains(part), "{part:?} missing in {m:?}");
    }
    // Without a unit there is no " for ..." at all.
    let m = dbus("", "org.freedesktop.DBus.Error.AccessDenied").to_string();
    assert!(m.starts_with("StartTransientUnit failed"), "{m}");
    let m = Error::JobFailed {
        unit: "web.scope".into(),
        job: JOB.into(),
        result: "failed".into(),
    }
    .to_string();
    for part in ["web.scope", JOB, "\"failed\""] {
        assert!(m.contains(part), "{part:?} missing in {m:?}");
    }
}

#[test]
fn rejected_input_is_the_source_of_the_error_and_a_bare_detail_has_none() {
    let e = Error::from(InputError::InvalidSignal(65));
    assert!(matches!(e, Error::Input(InputError::InvalidSignal(65))));
    let source = e.source().expect("an input error is the source");
    assert!(source.to_string().contains("65"), "{source}");
    // Said by the source, not again by the error around it.
    assert_eq!(e.to_string(), "rejected before sending");
    let lost = Error::Disconnected {
        unit: None,
        step: Step::Ping,
        cause: Cause::Detail("EOF".into()),
    };
    assert!(lost.source().is_none());
}

#[test]
fn a_lost_connection_keeps_the_transports_error_as_its_source() {
    use std::io::ErrorKind;
    let io = std::io::Error::from(ErrorKind::ConnectionReset);
    let lost = Error::Disconnected {
        unit: Some("web.scope".into()),
        step: Step::StopUnit,
        cause: Cause::bus(zbus::Error::InputOutput(Arc::new(io))),
    };
    let source = lost
        .source()
        .expect("the D-Bus layer's error is the source");
    let zbus_error = source.downcast_ref::<BusError>().expect("a BusError");
    let io = zbus_error.io().expect("the socket's error");
    assert_eq!(io.kind(), ErrorKind::ConnectionReset);
    // The message says what was lost and when; what happened is the source's to say.
    assert_eq!(
        lost.to_string(),
        "connection lost during StopUnit for web.scope"
    );
    assert_eq!(
        chain(&lost),
        format!("connection lost during StopUnit for web.scope: {zbus_error}: connection reset")
    );
}

#[test]
fn a_failed_handshake_call_is_the_source_of_the_connect_error() {
    let call = dbus("", "org.freedesktop.DBus.Error.AccessDenied");
    let connect = Error::Connect {
        target: "unix:path=/run/dbus/system_bus_socket".into(),
        step: Step::StartTransientUnit,
        cause: Cause::Call(Arc::new(call)),
    };
    let source = connect.source().expect("the call's error is the source");
    let call = source
        .downcast_ref::<Error>()
        .expect("the client's own error");
    assert_eq!(
        call.dbus_name(),
        Some("org.freedesktop.DBus.Error.AccessDenied")
    );
    // Each fact once: the target by the connect error, the step and the D-Bus error by the
    // failed call under it.
    assert_eq!(
        connect.to_string(),
        "connecting to unix:path=/run/dbus/system_bus_socket failed"
    );
    assert_eq!(
        chain(&connect),
        "connecting to unix:path=/run/dbus/system_bus_socket failed: StartTransientUnit \
         failed: org.freedesktop.DBus.Error.AccessDenied: Unit web.scope already exists."
    );
    // A call that timed out or lost the connection says so, with its step.
    let version = |call: Error| {
        chain(&Error::Connect {
            target: "t".into(),
            step: Step::Version,
            cause: Cause::Call(Arc::new(call)),
        })
    };
    for (call, said) in [
        (
            Error::Timeout {
                unit: None,
                step: Step::Version,
                after: Duration::from_secs(2),
            },
            "systemd did not complete Version within 2s",
        ),
        (
            Error::Disconnected {
                unit: None,
                step: Step::Version,
                cause: Cause::Detail("connection closed by the peer".into()),
            },
            "connection lost during Version: connection closed by the peer",
        ),
    ] {
        assert_eq!(version(call), format!("connecting to t failed: {said}"));
    }
    // Without a failed call, the connect error names the step, and a detail (no error
    // underneath) is in its message.
    let refused = Error::Connect {
        target: "t".into(),
        step: Step::Hello,
        cause: Cause::Detail("no handshake within 1s".into()),
    };
    assert_eq!(
        refused.to_string(),
        "connecting to t failed at Hello: no handshake within 1s"
    );
    // A protocol error with nothing underneath has no source, only its detail.
    let odd = Error::Protocol {
        unit: None,
        step: Step::Version,
        cause: Cause::Detail("unparsable version \"x\"".into()),
    };
    assert!(odd.source().is_none());
    assert!(
        odd.to_string().ends_with("unparsable version \"x\""),
        "{odd}"
    );
    // The operating system's refusal to start the reader is kept typed too.
    let spawn = Error::Connect {
        target: "x".into(),
        step: Step::Connect,
        cause: Cause::Io(Arc::new(std::io::Error::from(
            std::io::ErrorKind::OutOfMemory,
        ))),
    };
    let io = spawn
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(
        io.map(std::io::Error::kind),
        Some(std::io::ErrorKind::OutOfMemory)
    );
}

#[test]
fn the_allocators_refusal_is_the_source_of_a_cookie_error() {
    // Every cycled cookie pending: the allocator's EBUSY, kept typed under the client's error.
    let e = Error::Cookie {
        step: Step::StartTransientUnit,
        source: sdbus_cookie::Error::Busy,
    };
    let source = e.source().expect("the allocator's error is the source");
    assert_eq!(
        source.downcast_ref::<sdbus_cookie::Error>(),
        Some(&sdbus_cookie::Error::Busy)
    );
    assert_eq!(e.to_string(), "no cookie for StartTransientUnit");
    assert_eq!(sdbus_cookie::Error::Busy.errno(), 16, "EBUSY");
}

#[test]
fn unconverted_oci_fields_are_listed_comma_separated() {
    let e = InputError::OciUnconverted(vec![
        Unconverted {
            field: "linux.resources.hugepageLimits[0]".into(),
            value: "2MB 1073741824".into(),
            reason: "systemd has no hugetlb property",
        },
        Unconverted {
            field: "linux.resources.network.classID".into(),
            value: "1048577".into(),
            reason: "systemd has no net_cls property",
        },
    ]);
    assert_eq!(
        e.to_string(),
        "systemd cannot express linux.resources.hugepageLimits[0] (systemd has no hugetlb \
         property), linux.resources.network.classID (systemd has no net_cls property)"
    );
}
