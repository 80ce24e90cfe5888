//! `sdcookie`, the operator's binary: reads and guards the D-Bus cookie of systemd (PID 1)
//! and drives transient scopes through the never-hanging client. It runs on every node
//! (node-problem-detector's plugin, `deploy/`), so it links no sandbox; what only shows or
//! tests the fix is `sdcookie-lab` (`crates/lab`).
//!
//! Exit codes are part of the interface (see `sdcookie --help`): bad input is always 2 with
//! one line on stderr; `doctor` speaks node-problem-detector (0/1/2); `scope run` passes
//! its command's status through. This is the only place where errors are type-erased.

mod atomic;
mod cli;
mod doctor;
mod held;
mod relay;
mod scope;

use std::io::Write;
use std::process::ExitCode;

use sdcookie::{exit, Format};

use crate::cli::{Cli, Command, DoctorArgs, ScopeCommand};
use crate::scope::ScopeError;

fn main() -> ExitCode {
    exit::main("sdcookie", run, |e| match e.downcast_ref::<ScopeError>() {
        Some(e) => e.exit_code(),
        None => exit::OWN_FAILURE,
    })
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Doctor(args) => Ok(run_doctor(&args)?),
        Command::Relay(args) => {
            let (line, code) = relay::relay(&args.file, args.max_age, std::time::SystemTime::now());
            println!("{line}");
            Ok(code)
        }
        Command::Scope(ScopeCommand::Run(args)) => Ok(scope::run(&args)?),
        Command::Scope(ScopeCommand::Update(args)) => {
            if args.limits.is_empty() {
                eprintln!("sdcookie: error: scope update needs at least one limit (see 'sdcookie scope update --help')");
                return Ok(exit::USAGE);
            }
            scope::update(&args)?;
            Ok(0)
        }
        Command::Scope(ScopeCommand::Stop(args)) => {
            scope::stop(&args)?;
            Ok(0)
        }
    }
}

fn run_doctor(args: &DoctorArgs) -> anyhow::Result<u8> {
    loop {
        let code = doctor_once(args)?;
        // With --every the only way out is an error: a write that fails ends the process
        // (125), so its container restarts and the stale file turns `relay` to unknown.
        match args.every {
            Some(pause) => std::thread::sleep(pause),
            None => return Ok(code),
        }
    }
}

fn doctor_once(args: &DoctorArgs) -> anyhow::Result<u8> {
    let report = doctor::run(&doctor::Options {
        address: args.address.clone(),
        private: args.private.clone(),
        interval: args.interval,
        timeout: args.timeout,
    });
    let out = if args.npd {
        doctor::npd_line(&report) + "\n"
    } else {
        match args.format {
            Format::Text => doctor::text(&report),
            Format::Json => {
                serde_json::to_string_pretty(&report).expect("a report always serialises") + "\n"
            }
            Format::Prometheus => doctor::prometheus(&report, std::time::SystemTime::now()),
        }
    };
    // The report is complete in memory before anything is written, so a probe that ran
    // into its deadlines still yields a whole file (verdict unknown), never a partial one.
    match &args.output {
        Some(path) => atomic::replace(path, out.as_bytes())?,
        None => std::io::stdout().write_all(out.as_bytes())?,
    }
    Ok(report.verdict.exit_code())
}
