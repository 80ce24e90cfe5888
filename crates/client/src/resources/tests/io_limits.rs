use zbus::zvariant::Value;

use crate::error::InputError;
use crate::resources::plan::*;
use crate::resources::*;

fn get(p: &PropertyPlan, name: &str) -> Option<Value<'static>> {
    p.properties
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.clone())
}

fn io() -> Resources {
    Resources {
        blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 500)],
        io_read_bps: vec![IoDeviceLimit::new("/dev/vda", 1 << 20)],
        io_write_bps: vec![IoDeviceLimit::new("/dev/vda", 0)],
        io_read_iops: vec![IoDeviceLimit::new("/dev/vda", 100)],
        io_write_iops: vec![IoDeviceLimit::new("/dev/vdb", 200)],
        ..Resources::default()
    }
}

#[test]
fn io_limits_on_v2_use_io_names_and_zero_rate_is_no_limit() {
    let p = io()
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    let pairs = |v: Vec<(&str, u64)>| {
        Value::from(
            v.into_iter()
                .map(|(d, n)| (d.to_owned(), n))
                .collect::<Vec<_>>(),
        )
    };
    // blkio 500 -> io 1 + 490 * 9999 / 990 = 4950 (runc's ConvertBlkIOToIOWeightValue).
    assert_eq!(
        get(&p, "IODeviceWeight"),
        Some(pairs(vec![("/dev/vda", 4950)]))
    );
    assert_eq!(
        get(&p, "IOReadBandwidthMax"),
        Some(pairs(vec![("/dev/vda", 1 << 20)]))
    );
    assert_eq!(
        get(&p, "IOWriteBandwidthMax"),
        Some(pairs(vec![("/dev/vda", u64::MAX)]))
    );
    assert_eq!(
        get(&p, "IOReadIOPSMax"),
        Some(pairs(vec![("/dev/vda", 100)]))
    );
    assert_eq!(
        get(&p, "IOWriteIOPSMax"),
        Some(pairs(vec![("/dev/vdb", 200)]))
    );
    assert!(p.skipped.is_empty());
}

#[test]
fn io_limits_on_v1_use_blockio_names_and_report_iops_skipped() {
    let p = io()
        .to_properties(
            CgroupMode::Legacy,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert!(get(&p, "BlockIODeviceWeight").is_some());
    assert!(get(&p, "BlockIOReadBandwidth").is_some());
    assert!(get(&p, "BlockIOWriteBandwidth").is_some());
    assert!(get(&p, "IOReadBandwidthMax").is_none());
    let skipped: Vec<_> = p.skipped.iter().map(|s| s.property).collect();
    assert_eq!(skipped, ["IOReadIOPSMax", "IOWriteIOPSMax"]);
}

#[test]
fn io_limits_reject_non_device_paths_and_weights_out_of_range() {
    for (r, what) in [
        (
            Resources {
                io_read_bps: vec![IoDeviceLimit::new("vda", 1)],
                ..Resources::default()
            },
            "relative",
        ),
        (
            Resources {
                io_read_iops: vec![IoDeviceLimit::new("/dev/", 1)],
                ..Resources::default()
            },
            "bare /dev/",
        ),
        (
            Resources {
                blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 9)],
                ..Resources::default()
            },
            "weight 9",
        ),
        (
            Resources {
                blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 1001)],
                ..Resources::default()
            },
            "weight 1001",
        ),
    ] {
        assert!(r.validate().is_err(), "{what} accepted");
    }
}

#[test]
fn cpu_idle_is_weight_zero_from_252_and_wins_over_weight() {
    let r = Resources {
        cpu_idle: Some(true),
        cpu_weight: Some(300),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    let weights: Vec<_> = p
        .properties
        .iter()
        .filter(|(n, _)| *n == "CPUWeight")
        .collect();
    assert_eq!(weights, [&("CPUWeight", Value::U64(0))]);
    let old = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(251),
        )
        .unwrap();
    assert_eq!(get(&old, "CPUWeight"), Some(Value::U64(300)));
    assert_eq!(old.skipped[0].property, "CPUWeight");
}

#[test]
fn oom_group_is_oom_policy_only_when_a_scope_starts_on_253() {
    let r = Resources {
        oom_kill_group: Some(true),
        ..Resources::default()
    };
    let at = |v, a| {
        r.plan(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(v),
            a,
        )
        .unwrap()
    };
    assert_eq!(
        get(&at(253, Apply::ScopeStart), "OOMPolicy"),
        Some(Value::from("kill".to_owned()))
    );
    for p in [
        at(252, Apply::ScopeStart),
        at(253, Apply::SliceStart),
        at(253, Apply::Update),
    ] {
        assert!(get(&p, "OOMPolicy").is_none());
        assert_eq!(p.skipped[0].property, "OOMPolicy");
    }
}

#[test]
fn major_minor_device_rules_are_refused_before_240() {
    let r = Resources {
        device_policy: Some(DevicePolicy::Strict),
        device_allow: vec![DeviceAllow::new("/dev/char/1:3", "rw")],
        ..Resources::default()
    };
    assert!(r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(240)
        )
        .is_ok());
    assert!(matches!(
        r.to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(239)
        ),
        Err(InputError::InvalidDevice { .. })
    ));
    assert!(needs_240("char-136") && needs_240("/dev/block/8:0"));
    assert!(!needs_240("char-pts") && !needs_240("/dev/null"));
}
