//! A pod slice with a limit, and a container scope inside it, the way kubelet and a
//! runtime share the work:
//!
//! ```text
//! slice
//! ```
//!
//! creates `sdbus_example.slice` (tasks limit 64; starting it again while it is active is
//! success, `Started::existed`), starts `sleep 60` in a scope under it, prints both cgroups,
//! then stops the scope and the slice. Talks to the system bus; needs root and systemd
//! >= 228 (transient slices). Exit status 1 with the error chain on failure.

use std::process::{Command, ExitCode};

use sdbus_cgroup::{Client, Options, Resources, Scope, Slice, Target};

const SLICE: &str = "sdbus_example.slice";
const SCOPE: &str = "sdbus-example-container.scope";

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::connect(Target::SystemBus, Options::default())?;
    let pod = Slice::new(SLICE)
        .description("sdbus-cgroup example pod")
        .resources(Resources::new().pids_limit(64));
    client.start_slice(&pod)?;
    let again = client.start_slice(&pod)?;
    println!("second start_slice: existed = {}", again.existed);

    let mut child = Command::new("sleep").arg("60").spawn()?;
    let scope = Scope::new(SCOPE, vec![child.id()])
        .slice(SLICE)
        .resources(Resources::new().memory_limit(64 << 20));
    client.start_scope(&scope)?;
    println!("slice cgroup: {}", client.control_group(SLICE)?);
    println!("scope cgroup: {}", client.control_group(SCOPE)?);

    client.stop(SCOPE)?;
    child.wait()?;
    client.stop(SLICE)?;
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
            eprintln!("slice: {msg}");
            ExitCode::FAILURE
        }
    }
}
