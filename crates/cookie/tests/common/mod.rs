//! Shared by the proptest suites (differential.rs, legacy.rs).

use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed, TestRunner};

/// A runner with a fixed seed unless `PROPTEST_RNG_SEED` is set, and no regression files
/// (failures are turned into named tests by hand).
pub fn runner(cases: u32, seed: u64) -> TestRunner {
    let base = ProptestConfig::default();
    let rng_seed = match base.rng_seed {
        RngSeed::Random => RngSeed::Fixed(seed),
        fixed => fixed,
    };
    eprintln!("proptest: {cases} cases, rng seed {rng_seed}");
    TestRunner::new(ProptestConfig {
        cases,
        rng_seed,
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        ..base
    })
}
