//! `sdcookie-lab`: what exists to show and to test the fix on a real systemd, apart from the
//! operator's `sdcookie` so that the binary every node runs carries no namespace, mount or
//! gdb code. `sandbox` boots a throwaway systemd and runs a command in it; `demo` is the
//! README's tour of the project; `reproduce` is the incident on a real vulnerable PID 1
//! next to the backport, for the maintainers of the releases that have the bug.
//!
//! The doctor it shows is the operator's own binary, run from the directory of this one
//! (`doctor.rs`). Exit codes are part of the interface (see `sdcookie-lab --help`): bad
//! input is 2 with one line on stderr; `sandbox` passes its command's status through;
//! `demo` and `reproduce` say 1 when something they show did not hold; SIGTERM, SIGHUP and
//! SIGINT tear every sandbox down and exit 128+N (`stop.rs`). This is the only place where
//! errors are type-erased.

mod cli;
mod demo;
mod doctor;
mod reproduce;
mod sandbox_cmd;
mod stop;

use std::process::ExitCode;

use sdcookie::exit;

use crate::cli::Cli;

/// Exit status of a demo step or a reproduction claim that did not hold.
const EXIT_CHECK_FAILED: u8 = 1;

/// sd-bus's cookie ceiling, `0xffffffff`, as the allocator defines it.
const CEILING: u32 = sdbus_cookie::Config::DEFAULT.ceiling();
/// The first cookie after the ceiling, `0x80000000` (bit 31 marks "cycled").
const CYCLED: u32 = sdbus_cookie::Config::DEFAULT.cycled();

fn main() -> ExitCode {
    exit::main("sdcookie-lab", run, |e| {
        let checked = e.is::<demo::DemoError>()
            || e.downcast_ref::<reproduce::ReproduceError>()
                .is_some_and(reproduce::ReproduceError::is_check);
        if checked {
            EXIT_CHECK_FAILED
        } else {
            exit::OWN_FAILURE
        }
    })
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    stop::watch().map_err(|e| anyhow::anyhow!("catching SIGTERM, SIGHUP and SIGINT: {e}"))?;
    let result = match cli {
        Cli::Sandbox(args) => sandbox_cmd::run(&args).map_err(anyhow::Error::from),
        Cli::Demo(args) => demo::run(&args).map_err(anyhow::Error::from),
        Cli::Reproduce(args) => reproduce::run(&args).map_err(anyhow::Error::from),
    };
    stop::defer_to_stop();
    result
}
