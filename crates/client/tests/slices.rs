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
    slice.resources = Resources {
        pids_limit: Some(50),
        ..Resources::default()
    };
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
