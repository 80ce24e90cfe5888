//! What a container runtime does with systemd, from an OCI bundle:
//!
//! ```text
//! oci_scope BUNDLE
//! ```
//!
//! reads `BUNDLE/config.json`, starts `sleep infinity` in a transient scope with the spec's
//! `linux.resources` and `linux.cgroupsPath` (`slice:prefix:name`; empty = runc's default
//! `system.slice:runc:<bundle dir name>`), prints `cgroup: <the unit's ControlGroup>` and one
//! `unconverted: FIELD = VALUE (REASON)` line per field systemd cannot take (write those to
//! cgroupfs yourself), and one `skipped: PROPERTY (REASON)` line per property this systemd
//! or cgroup mode lacks; then holds the scope until its standard input closes, stops it
//! and exits 0. Talks to the system bus (`$DBUS_SYSTEM_BUS_ADDRESS`), async throughout.
//! Exit status 1 with a message on any error; nothing is left running.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};

use oci_spec::runtime::Spec;
use sdbus_cgroup::{parse_cgroups_path, AsyncClient, Options, Resources, Scope, Target};

type BoxError = Box<dyn std::error::Error>;

/// Ends the process it holds (by its pid) however `run` returns.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run(bundle: PathBuf) -> Result<(), BoxError> {
    let config = bundle.join("config.json");
    let spec = Spec::load(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or("config.json has no \"linux\" section")?;
    let id = bundle
        .canonicalize()?
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the bundle directory has no usable name")?
        .to_owned();
    let cgroups_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let place = parse_cgroups_path(&cgroups_path, &id)?;
    if place.is_slice() {
        return Err("linux.cgroupsPath names a slice; this example creates scopes".into());
    }
    // Convert (and validate) everything before anything is started.
    let oci = match linux.resources() {
        Some(r) => Resources::from_oci(r)?,
        None => Resources::from_oci(&Default::default())?,
    };

    let client = AsyncClient::connect(Target::SystemBus, Options::default()).await?;
    let child = Reaped(Command::new("sleep").arg("infinity").spawn()?);
    let mut scope = Scope::new(place.unit.clone(), vec![child.0.id()]);
    scope.slice = Some(place.slice.clone());
    scope.description = Some(format!("oci_scope {id}"));
    scope.resources = oci.resources;
    let started = client.start_scope(&scope).await?;
    let held = async {
        let mut out = std::io::stdout().lock();
        writeln!(out, "cgroup: {}", client.control_group(&place.unit).await?)?;
        for u in &oci.unconverted {
            writeln!(out, "unconverted: {} = {} ({})", u.field, u.value, u.reason)?;
        }
        for s in &started.skipped {
            writeln!(out, "skipped: {} ({})", s.property, s.reason)?;
        }
        out.flush()?;
        drop(out);
        // Hold the scope until standard input closes.
        let mut sink = Vec::new();
        std::io::stdin().read_to_end(&mut sink)?;
        Ok::<(), BoxError>(())
    }
    .await;
    // Stop the scope whatever happened while it was held.
    let stopped = client.stop(&place.unit).await;
    drop(child);
    held?;
    stopped?;
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(bundle), None) = (args.next(), args.next()) else {
        eprintln!("usage: oci_scope BUNDLE");
        return ExitCode::from(2);
    };
    match async_io::block_on(run(PathBuf::from(bundle))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oci_scope: {e}");
            ExitCode::FAILURE
        }
    }
}
