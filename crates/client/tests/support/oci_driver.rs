//! The driver of the `oci_resources` fuzz target (crates/client/fuzz), shared with its
//! replay on stable (tests/fuzz_regressions.rs): bytes as a container spec's
//! `linux.resources` JSON, through the OCI → systemd conversion and every property plan.
//! Whatever the input, nothing panics, and what converts is fail-closed: it validates,
//! every device rule is a non-empty subset of "rwm" without a repeated letter, and
//! `pids.limit` is -1 or more.

use oci_spec::runtime::LinuxResources;
use sdbus_cgroup::{CgroupMode, Resources};

/// A host with one block device, 8:0.
fn block_device(major: i64, minor: i64) -> Option<String> {
    ((major, minor) == (8, 0)).then(|| "/dev/sda".to_owned())
}

pub fn run(data: &[u8]) {
    let Ok(r) = serde_json::from_slice::<LinuxResources>(data) else {
        return;
    };
    let Ok(converted) = Resources::from_oci_with(&r, &block_device) else {
        return;
    };
    let res = &converted.resources;
    assert_eq!(
        res.validate(),
        Ok(()),
        "a conversion that does not validate: {res:?}"
    );
    for d in &res.device_allow {
        let access = &d.access;
        let mut seen = String::new();
        for ch in access.chars() {
            assert!("rwm".contains(ch) && !seen.contains(ch), "{d:?}");
            seen.push(ch);
        }
        assert!(!access.is_empty(), "{d:?}");
    }
    if let Some(l) = res.pids_limit {
        assert!(l >= -1, "pids_limit {l}");
    }
    for mode in [CgroupMode::Legacy, CgroupMode::Unified] {
        for version in [219, 237, 241, 252, u32::MAX] {
            let _ = res.to_properties(mode, version);
        }
    }
}
