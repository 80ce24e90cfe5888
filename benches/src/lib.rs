//! Shared pieces of the criterion benches of `sdbus-cookie` against upstream's C algorithm.
//!
//! Each measurement in `benches/README.md` (the fast path, scattered pending cookies, a run
//! of pending cookies, memory, a scope lifecycle) is one criterion group. A group times
//! "ours" and "the reference" with the same harness, and then prints the ratio
//! ours/reference measured *in the same run*: the machine is shared and noisy, so absolute
//! numbers from different runs do not compare, ratios taken side by side do.
//!
//! Two ratios are printed per group:
//! * `paired`: this crate's own interleaved measurement ([`paired`]): ours and the reference
//!   alternate in short rounds (ABBA), the ratio is taken per round, and the median and
//!   quartiles of those ratios are reported. Load that comes and goes hits both sides.
//! * `criterion`: the ratio of criterion's median estimates (`estimates.json`), for readers
//!   who want to check it against criterion's own report.
//!
//! Every harness keeps the allocator state in memory across calls (`black_box(&mut state)`),
//! the way a connection object holds it, and feeds every result to `black_box`, so neither
//! side can be folded into a closed form by the optimiser.

pub mod cdriver;
pub mod group;
pub mod libsystemd;
pub mod measure;
pub mod scenario;

pub use measure::{paired, print_group_ratios, Paired, Row};
