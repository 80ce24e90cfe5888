//! A runC-style systemd cgroup client over D-Bus that never hangs and checks cookies both ways
//!
//! Work in progress: see the open issue for this crate.
