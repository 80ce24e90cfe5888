//! The incident on XCP-ng 8.3 / XenServer 8's systemd (219-57.5: CentOS 7's 219 with Red
//! Hat's backports, built from the distribution's packaging with its whole patch series) as
//! PID 1, stock and with our patch, with the post-mortem's runtimes on the same PID 1s. The
//! checks are in `reproduce/mod.rs`.

#[macro_use]
mod reproduce;

reproduce_tests!(
    "xcp-ng-8.3",
    "219",
    "stays on the bus, deaf",
    "runc,crun,containerd,dockerd"
);
runtime_tests!();
