//! The incident on Debian 10's systemd (241-7~deb10u8, built from the distribution's tree
//! with its whole patch series) as PID 1, stock and with our patch added to the series, with
//! the post-mortem's runtimes on the same PID 1s: runc and crun (`--systemd-cgroup`),
//! containerd with its runc shim (`ctr run --runc-systemd-cgroup`) and dockerd
//! (`native.cgroupdriver=systemd`). The checks are in `reproduce/mod.rs`.

#[macro_use]
mod reproduce;

reproduce_tests!(
    "debian-10",
    "241",
    "leaves the bus",
    "runc,crun,containerd,dockerd"
);
runtime_tests!();
