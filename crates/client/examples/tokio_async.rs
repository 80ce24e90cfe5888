//! `AsyncClient` on tokio: the client's futures run on any executor, and several
//! operations share one connection concurrently.
//!
//! ```text
//! tokio_async
//! ```
//!
//! starts two `sleep 60` processes, creates a scope around each concurrently
//! (`tokio::try_join!`) with a tasks limit, prints their cgroups and the client's
//! statistics, then stops both. The whole of each operation is bounded by
//! `Timeouts::operation` (here 20 s). Talks to the system bus; needs root. Exit status 1
//! with the error chain on failure.

use std::process::ExitCode;
use std::time::Duration;

use sdbus_cgroup::{AsyncClient, Options, Resources, Scope, Target, Timeouts};
use tokio::process::Command;

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let opts =
        Options::default().with_timeouts(Timeouts::default().operation(Duration::from_secs(20)));
    let client = AsyncClient::connect(Target::SystemBus, opts).await?;
    let mut a = Command::new("sleep").arg("60").kill_on_drop(true).spawn()?;
    let mut b = Command::new("sleep").arg("60").kill_on_drop(true).spawn()?;
    let pid = |c: &tokio::process::Child| c.id().ok_or("the child already exited");
    let limits = Resources::new().pids_limit(16);
    let scope_a = Scope::new("sdbus-example-a.scope", vec![pid(&a)?]).resources(limits.clone());
    let scope_b = Scope::new("sdbus-example-b.scope", vec![pid(&b)?]).resources(limits);
    tokio::try_join!(client.start_scope(&scope_a), client.start_scope(&scope_b))?;
    for unit in ["sdbus-example-a.scope", "sdbus-example-b.scope"] {
        println!("{unit}: {}", client.control_group(unit).await?);
    }
    println!("{:?}", client.stats());
    tokio::try_join!(
        client.stop("sdbus-example-a.scope"),
        client.stop("sdbus-example-b.scope")
    )?;
    a.wait().await?;
    b.wait().await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("tokio_async: {msg}");
            ExitCode::FAILURE
        }
    }
}
