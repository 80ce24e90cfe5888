//! The sandbox's console: a pseudo-terminal whose slave is bound onto `/dev/console`
//! inside and is PID 1's stdout/stderr. systemd logs to the console only if it is a
//! terminal (`open_terminal()` checks `isatty`), so a plain file would stay empty; and
//! without our own console it would write to the host's. A thread drains the master so
//! systemd never blocks on a full terminal buffer; it keeps the last [`KEEP`] bytes and
//! ends when every slave descriptor is closed (`EIO`), i.e. after teardown.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex};
use std::thread;

use nix::fcntl::OFlag;

/// How much console output is kept (the tail).
const KEEP: usize = 256 * 1024;

#[derive(Debug)]
pub(crate) struct Console {
    /// `/dev/pts/<n>`, bound onto `/dev/console` in the sandbox.
    pub(crate) slave_path: String,
    /// Our slave descriptor keeps the master readable until teardown, even before
    /// PID 1 opens the slave.
    slave: Option<File>,
    text: Arc<Mutex<Vec<u8>>>,
}

impl Console {
    pub(crate) fn open(name: &str) -> std::io::Result<Console> {
        let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
        nix::pty::grantpt(&master)?;
        nix::pty::unlockpt(&master)?;
        let slave_path = nix::pty::ptsname_r(&master)?;
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(&slave_path)?;
        let text = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&text);
        let mut master = master;
        thread::Builder::new()
            .name(format!("{name}-console"))
            .spawn(move || {
                let mut buf = [0u8; 4096];
                // Ends with EIO once no slave descriptor is open any more.
                while let Ok(n @ 1..) = master.read(&mut buf) {
                    let mut t = sink.lock().unwrap_or_else(|p| p.into_inner());
                    t.extend(buf[..n].iter().copied().filter(|&b| b != b'\r'));
                    if t.len() > KEEP {
                        let cut = t.len() - KEEP;
                        t.drain(..cut);
                    }
                }
            })?;
        Ok(Console {
            slave_path,
            slave: Some(slave),
            text,
        })
    }

    /// Everything kept so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Lets the reader thread end once the sandbox's own descriptors are gone.
    pub(crate) fn close(&mut self) {
        self.slave = None;
    }
}
