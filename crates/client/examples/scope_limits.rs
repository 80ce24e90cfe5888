//! A scope with limits around a running process, the way a runtime puts a container in
//! its cgroup:
//!
//! ```text
//! scope_limits
//! ```
//!
//! starts `sleep 60`, creates `sdbus-cgroup-example.scope` around it with a memory, CPU
//! and tasks limit, prints its cgroup and what this systemd left out, changes the memory
//! limit on the running scope, then stops it (the sleep ends with it). Talks to the system
//! bus; needs root. Exit status 1 with the error chain on failure.

use std::process::{Command, ExitCode};

use sdbus_cgroup::{Client, Options, Resources, Scope, Target};

const UNIT: &str = "sdbus-cgroup-example.scope";

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut child = Command::new("sleep").arg("60").spawn()?;
    let client = Client::connect(Target::SystemBus, Options::default())?;
    let scope = Scope::new(UNIT, vec![child.id()]).resources(
        Resources::new()
            .memory_limit(256 << 20)
            .cpu_quota(50_000) // half a CPU: 50 ms per 100 ms period
            .pids_limit(32),
    );
    let started = client.start_scope(&scope)?;
    println!("cgroup: {}", client.control_group(UNIT)?);
    for s in &started.skipped {
        println!("skipped: {s}");
    }
    client.set_resources(UNIT, &Resources::new().memory_limit(128 << 20))?;
    println!(
        "MemoryMax now {}",
        client.cgroup_property(UNIT, "MemoryMax")?
    );
    client.stop(UNIT)?;
    child.wait()?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("scope_limits: {msg}");
            ExitCode::FAILURE
        }
    }
}
