//! Boots a sandbox N times (default 10), one after another, and prints each boot time
//! (from `Sandbox::boot` to systemd answering `Version` on the sandbox bus) and the median.
//!
//! `cargo run -p sdbus-sandbox --release --example boot_time [-- N]`

use std::time::{Duration, Instant};

use sdbus_sandbox::{Sandbox, SandboxOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10);
    let mut times: Vec<Duration> = Vec::with_capacity(n);
    let mut teardowns: Vec<Duration> = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let sandbox = Sandbox::boot(SandboxOptions::default())?;
        let booted = start.elapsed();
        let version = sandbox.systemd_version().to_owned();
        let start = Instant::now();
        sandbox.shutdown()?;
        let down = start.elapsed();
        println!(
            "boot {:2}: {:7.1} ms (systemd {version}), teardown {:6.1} ms",
            i + 1,
            ms(booted),
            ms(down)
        );
        times.push(booted);
        teardowns.push(down);
    }
    times.sort();
    teardowns.sort();
    println!(
        "median boot time over {n} boots: {:.1} ms (min {:.1}, max {:.1}); median teardown {:.1} ms",
        ms(median(&times)),
        ms(times[0]),
        ms(times[n - 1]),
        ms(median(&teardowns))
    );
    Ok(())
}

fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
