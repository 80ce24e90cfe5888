//! Nothing to link: this crate exists for its tests, which drive `sdbus-cgroup`'s async
//! API from tokio and async-io against a real systemd, and run again with zbus's `tokio`
//! feature switched on by this crate (feature `zbus-tokio`), as a tokio-based dependent
//! would (zbus#384: "there is no reactor running" panics).
#![forbid(unsafe_code)]
