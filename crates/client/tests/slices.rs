//! Slices against a real systemd in a sandbox: starting one that already exists and is
//! active succeeds (kubelet creates its pod slices this way), and nothing is left behind.

mod common;

use common::*;
use sdbus_cgroup::{Resources, Slice};

#[test]
fn start_slice_on_an_existing_active_slice_succeeds() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let mut slice = Slice::new("pod-a.slice");
    slice.resources = Resources::new().pids_limit(50);
    let first = c.start_slice(&slice).expect("first start_slice");
    assert!(!first.retried);
    assert_eq!(
        c.unit_state("pod-a.slice", "ActiveState").unwrap(),
        "active"
    );

    let again = c
        .start_slice(&slice)
        .expect("start_slice on an existing active slice");
    assert_eq!(again.unit, "pod-a.slice");
    assert_eq!(
        c.unit_state("pod-a.slice", "ActiveState").unwrap(),
        "active"
    );

    c.stop("pod-a.slice").expect("stop");
    assert_eq!(
        c.unit_path("pod-a.slice").unwrap(),
        None,
        "slice left behind"
    );
}

/// The gate reads what the running PID 1 exposes: the host's systemd (252 here) lists every
/// cgroup property the client sends on `-.slice`, so the introspection is used, not only
/// the release number, and the tasks limit it exposes is sent and lands.
#[test]
fn capabilities_come_from_the_root_slice_introspection_of_the_running_systemd() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let caps = c.capabilities().expect("capabilities");
    assert!(
        caps.introspected(),
        "-.slice introspection not used: {caps:?}"
    );
    assert_eq!(caps.version(), c.version().unwrap());
    for name in [
        "TasksMax",
        "TasksAccounting",
        "MemoryAccounting",
        "CPUAccounting",
    ] {
        assert_eq!(caps.check(name), Ok(()), "{name}");
    }
    let mut slice = Slice::new("caps.slice");
    slice.resources = Resources::new().pids_limit(32);
    let started = c.start_slice(&slice).expect("start_slice");
    assert!(started.skipped.is_empty(), "{:?}", started.skipped);
    assert_eq!(u64_prop(&c, "caps.slice", "TasksMax"), 32);
    c.stop("caps.slice").expect("stop");
}
