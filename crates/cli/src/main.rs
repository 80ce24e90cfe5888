//! `sdcookie`: reads and guards the D-Bus cookie of systemd (PID 1), drives transient
//! scopes through the never-hanging client, boots sandboxes and demonstrates the fix.
//!
//! Exit codes are part of the interface (see `sdcookie --help`): bad input is always 2 with
//! one line on stderr; `doctor` speaks node-problem-detector (0/1/2); commands that run a
//! command pass its status through. This is the only place where errors are type-erased.

mod atomic;
mod cli;
mod demo;
mod doctor;
#[cfg(test)]
mod doctor_rendering;
#[cfg(test)]
mod doctor_verdicts;
mod held;
mod parse;
#[cfg(test)]
mod parse_rules;
mod rawbus;
mod reproduce;
mod sandbox_cmd;
mod scope;
mod signals;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, DoctorArgs, Format, ScopeCommand};
use crate::scope::ScopeError;

/// Exit status when sdcookie itself fails around a command it runs (as `env`/`timeout` do).
const EXIT_OWN_FAILURE: u8 = 125;
/// Exit status of a demo step that failed.
const EXIT_DEMO_FAILED: u8 = 1;

fn main() -> ExitCode {
    // A panic is a bug, but even then the user gets one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string().replace('\n', " ");
        eprintln!("sdcookie: internal error: {msg}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("sdcookie: error: {}", format!("{e:#}").replace('\n', " "));
            let code = if let Some(e) = e.downcast_ref::<ScopeError>() {
                e.exit_code()
            } else if e.is::<demo::DemoError>()
                || e.downcast_ref::<reproduce::ReproduceError>()
                    .is_some_and(reproduce::ReproduceError::is_check)
            {
                EXIT_DEMO_FAILED
            } else {
                EXIT_OWN_FAILURE
            };
            ExitCode::from(code)
        }
    }
}

/// Help and version go to stdout with 0; everything else is one line on stderr and 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::from(2);
    }
    // clap renders "error: ...\n\nUsage: ...\n\nFor more information, try '--help'."; keep
    // the error itself, folded onto one line.
    let rendered = e.render().to_string();
    let line = rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("tip:") && !l.starts_with("For more information")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    eprintln!("sdcookie: error: {line} (see 'sdcookie --help')");
    ExitCode::from(2)
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Doctor(args) => Ok(run_doctor(&args)?),
        Command::Scope(ScopeCommand::Run(args)) => Ok(scope::run(&args)?),
        Command::Scope(ScopeCommand::Update(args)) => {
            if args.limits.is_empty() {
                eprintln!("sdcookie: error: scope update needs at least one limit (see 'sdcookie scope update --help')");
                return Ok(2);
            }
            scope::update(&args)?;
            Ok(0)
        }
        Command::Scope(ScopeCommand::Stop(args)) => {
            scope::stop(&args)?;
            Ok(0)
        }
        Command::Sandbox(args) => Ok(sandbox_cmd::run(&args)?),
        Command::Demo(args) => Ok(demo::run(&args)?),
        Command::Reproduce(args) => Ok(reproduce::run(&args)?),
    }
}

fn run_doctor(args: &DoctorArgs) -> anyhow::Result<u8> {
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
