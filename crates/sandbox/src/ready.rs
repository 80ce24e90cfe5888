//! Waiting for the booted systemd: PID 1 is watched on this thread while another asks the
//! sandbox's bus whether `org.freedesktop.systemd1` answers.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use crate::{BootStage, Error, Sandbox};

impl Sandbox {
    /// Waits until `org.freedesktop.systemd1` answers `Version`, PID 1 exits, or the deadline.
    pub(crate) fn wait_ready(&mut self, timeout: Duration) -> Result<String, Error> {
        let pid = crate::live::lock(&self.live)
            .pid1
            .expect("PID 1 is running");
        let progress = Arc::new(Mutex::new((BootStage::BusSocket, None::<String>)));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let socket = self.bus_socket();
        let address = self.bus_address();
        // The D-Bus handshake can block (e.g. dbus-daemon started but stuck), so the checks
        // run on their own thread and this one enforces the deadline; a stuck check ends
        // when teardown kills PID 1 and its socket closes.
        {
            let (progress, stop) = (Arc::clone(&progress), Arc::clone(&stop));
            thread::Builder::new()
                .name(format!("sandbox-{}-boot", self.id))
                .spawn(move || {
                    if let Some(v) = probe(&socket, &address, &progress, &stop) {
                        let _ = tx.send(v);
                    }
                })
                .map_err(|e| Error::io("starting the readiness thread", e))?;
        }
        let deadline = Instant::now() + timeout;
        let result = loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(version) => break Ok(version),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The probe thread died (a panic in zbus?): keep watching PID 1 until the deadline.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    thread::sleep(Duration::from_millis(5))
                }
            }
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR) => {}
                Ok(status) => {
                    crate::live::lock(&self.live).pid1 = None;
                    break Err(Error::Pid1Exited {
                        status: describe(status),
                        log: self.log(),
                    });
                }
                Err(e) => break Err(Error::io("waiting for the sandbox's PID 1", e.into())),
            }
            if Instant::now() >= deadline {
                let (stage, last_error) =
                    progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
                break Err(Error::BootTimeout {
                    stage,
                    waited: timeout,
                    last_error,
                    log: self.log(),
                });
            }
        };
        stop.store(true, Ordering::SeqCst);
        result
    }
}

/// The readiness checks, in order; `None` if told to stop.
fn probe(
    socket: &Path,
    address: &str,
    progress: &Mutex<(BootStage, Option<String>)>,
    stop: &AtomicBool,
) -> Option<String> {
    let note = |stage: BootStage, err: Option<String>| {
        *progress.lock().unwrap_or_else(|p| p.into_inner()) = (stage, err)
    };
    let pause = || thread::sleep(Duration::from_millis(5));
    while !socket.exists() {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        pause();
    }
    note(BootStage::DbusDaemon, None);
    let bus = loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        let built = zbus::blocking::connection::Builder::address(address)
            .map(|b| b.method_timeout(Duration::from_secs(5)))
            .and_then(|b| b.build());
        match built {
            Ok(bus) => break bus,
            Err(e) => note(BootStage::DbusDaemon, Some(e.to_string())),
        }
        pause();
    };
    note(BootStage::Systemd1, None);
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        // Ask the bus first: a call to a name nobody owns yet would make dbus-daemon try to
        // activate it through systemd, which is exactly what is not up yet.
        let owned = bus
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                "NameHasOwner",
                &("org.freedesktop.systemd1",),
            )
            .and_then(|r| r.body().deserialize::<bool>());
        match owned {
            Ok(true) => {
                let version = bus
                    .call_method(
                        Some("org.freedesktop.systemd1"),
                        "/org/freedesktop/systemd1",
                        Some("org.freedesktop.DBus.Properties"),
                        "Get",
                        &("org.freedesktop.systemd1.Manager", "Version"),
                    )
                    .and_then(|r| r.body().deserialize::<zbus::zvariant::OwnedValue>())
                    .map_err(|e| e.to_string())
                    .and_then(|v| String::try_from(v).map_err(|e| e.to_string()));
                match version {
                    Ok(v) => return Some(v),
                    Err(e) => note(BootStage::Systemd1, Some(e)),
                }
            }
            Ok(false) => note(
                BootStage::Systemd1,
                Some("the name has no owner yet".into()),
            ),
            Err(e) => note(BootStage::Systemd1, Some(e.to_string())),
        }
        pause();
    }
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by {sig}"),
        other => format!("{other:?}"),
    }
}
