//! End-to-end tests across crates, C and real systemd
//!
//! Work in progress: see the open issue for this crate.
