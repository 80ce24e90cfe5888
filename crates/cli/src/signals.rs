//! While sdcookie (or sdcookie-lab) waits for a command it started, Ctrl-C belongs to the
//! command (it is in our process group and gets the signal itself); we ignore SIGINT and
//! SIGQUIT so as to survive to clean up (stop the scope, tear the sandbox down), as system(3)
//! does.
//! Install the guard only after the child exists: ignored signals stay ignored across exec.

use nix::sys::signal::{signal, SigHandler, Signal};

/// Ignores SIGINT and SIGQUIT until dropped, then restores what was there. Its constructor is
/// `start`, not `new`: making one changes the process's signal dispositions.
#[derive(Debug)]
pub struct IgnoreInterrupts {
    saved: Vec<(Signal, SigHandler)>,
}

impl IgnoreInterrupts {
    /// Starts ignoring.
    pub fn start() -> IgnoreInterrupts {
        let mut saved = Vec::new();
        for sig in [Signal::SIGINT, Signal::SIGQUIT] {
            // SAFETY: SIG_IGN installs no handler code, so no signal-safety rules apply.
            if let Ok(old) = unsafe { signal(sig, SigHandler::SigIgn) } {
                saved.push((sig, old));
            }
        }
        IgnoreInterrupts { saved }
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        for &(sig, old) in &self.saved {
            // SAFETY: puts back the disposition that was installed before `new`.
            let _ = unsafe { signal(sig, old) };
        }
    }
}
