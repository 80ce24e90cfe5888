//! Criterion benches: sdbus-cookie against upstream's C algorithm
//!
//! Work in progress: see the open issue for this crate.
