//! Our own C re-implementation of sd-bus's cookie algorithms (pre-v242 and v242+), the reference for tests and benches
//!
//! Work in progress: see the open issue for this crate.
