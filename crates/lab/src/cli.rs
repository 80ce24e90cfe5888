//! The command line of `sdcookie-lab`, as clap derive types.

use std::path::PathBuf;

use clap::{Args, Parser};

const EXIT_CODES: &str = "\
Exit codes:
  sandbox         the command's own status (128+N if killed by signal N); 125 if
                  sdcookie-lab itself failed, 126 if the command could not be run, 127 if
                  not found
  demo            0 every step worked, 1 a step failed
  reproduce       0 every claim held, 1 a claim did not hold, 125 the run could not go on
                  (build, sandbox, gdb, PID 1 died, no sdcookie beside sdcookie-lab)
  any             2 bad command-line input (one line on stderr); 128+N on SIGTERM,
                  SIGHUP or SIGINT, after every sandbox was torn down (CMD included)";

/// Shows and tests the cookie fix on a real systemd (needs root).
///
/// A throwaway sandbox, the demo, and the incident reproduced on a vulnerable PID 1. The
/// doctor shown is the operator's `sdcookie`, run from the directory of this binary.
#[derive(Debug, Parser)]
#[command(name = "sdcookie-lab", version, after_help = EXIT_CODES)]
pub enum Cli {
    /// Boot a throwaway systemd in namespaces, run a command inside, tear it down.
    #[command(after_help = EXIT_CODES)]
    Sandbox(SandboxArgs),
    /// Show the whole project working in a sandbox, in well under a minute.
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
    /// The cookie-overflow incident on a real vulnerable PID 1, the way out, and the fix
    /// holding (stock vs patched, cookie moved by gdb).
    #[command(after_help = EXIT_CODES)]
    Reproduce(crate::reproduce::ReproduceArgs),
}

/// `sdcookie-lab sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The systemd binary to boot as the sandbox's PID 1.
    #[arg(long, value_name = "PATH")]
    pub systemd: Option<PathBuf>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `sdcookie-lab demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The systemd binary to boot as the sandbox's PID 1.
    #[arg(long, value_name = "PATH")]
    pub systemd: Option<PathBuf>,
}
