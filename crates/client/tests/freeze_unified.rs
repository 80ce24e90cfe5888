//! FreezeUnit/ThawUnit change the freezer state, shown on a unified (cgroup2-only) sandbox.
//!
//! systemd's freezer needs the unified hierarchy. On a v1/hybrid host (like CI's) the
//! outer test re-runs this binary in a private mount namespace (unshare(1)) whose
//! `/sys/fs/cgroup` is a fresh cgroup2 mount, as sdbus-sandbox's own unified-layout test
//! does; the sandbox then boots systemd in unified mode. The freezer is a core cgroup2
//! feature (`cgroup.freeze`), so it works even though the host binds the resource
//! controllers to v1. The host's mounts are not touched.

mod common;

use common::*;
use sdbus_cgroup::Scope;

#[test]
fn freeze_and_thaw_change_the_freezer_state_on_a_unified_sandbox() {
    run_in_unified_namespace("unified_freeze_helper", "FREEZE OK");
}

#[test]
#[ignore = "helper: run by freeze_and_thaw_change_the_freezer_state_on_a_unified_sandbox"]
fn unified_freeze_helper() {
    let (sb, c) = unified_sandbox_and_client();
    let mut child = sleeper(&sb);
    let unit = "frozen.scope";
    c.start_scope(&Scope::new(unit, vec![child.pid()])).unwrap();
    let cg = c.control_group(unit).unwrap();
    assert_eq!(c.unit_state(unit, "FreezerState").unwrap(), "running");

    c.freeze(unit).expect("FreezeUnit");
    assert_eq!(c.unit_state(unit, "FreezerState").unwrap(), "frozen");
    assert_eq!(sb.read_cgroup_file(&cg, "cgroup.freeze").unwrap(), "1");
    let events = sb.read_cgroup_file(&cg, "cgroup.events").unwrap();
    assert!(events.lines().any(|l| l == "frozen 1"), "{events}");

    c.thaw(unit).expect("ThawUnit");
    assert_eq!(c.unit_state(unit, "FreezerState").unwrap(), "running");
    assert_eq!(sb.read_cgroup_file(&cg, "cgroup.freeze").unwrap(), "0");

    c.stop(unit).unwrap();
    child.wait().unwrap();
    assert_eq!(c.unit_path(unit).unwrap(), None);
    drop(c);
    sb.shutdown().unwrap();
    println!("FREEZE OK");
}
