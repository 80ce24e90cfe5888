//! How a binary of sdbus-cookie ends: errors are one line on stderr, `NAME: error: ...`,
//! never a backtrace; bad command-line input is exit 2; a failure of the binary itself
//! around a command it runs is 125 (as `env` and `timeout` do). Each binary decides the
//! rest of its exit statuses (`--help` lists them); `main` is the only place where errors
//! are type-erased.

use std::process::ExitCode;

/// Exit status when the binary itself fails around a command it runs.
pub const OWN_FAILURE: u8 = 125;

/// Exit status of bad command-line input.
pub const USAGE: u8 = 2;

/// The whole of a binary's `main`: parse the command line `C` (bad input: one line and
/// [`USAGE`]), `run` it and exit with its status, or print its error on one line and exit
/// with the status `status_of` gives that error.
pub fn main<C: clap::Parser>(
    name: &'static str,
    run: impl FnOnce(C) -> anyhow::Result<u8>,
    status_of: impl FnOnce(&anyhow::Error) -> u8,
) -> ExitCode {
    one_line_panics(name);
    let cli = match C::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(name, &e),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{name}: error: {}", one_line(&e));
            ExitCode::from(status_of(&e))
        }
    }
}

/// The error and its sources, `: `-separated on one line.
fn one_line(e: &anyhow::Error) -> String {
    chain(e.as_ref()).replace('\n', " ")
}

/// An error and every source under it, `: `-separated: our errors leave their source out
/// of their own message, so this is how they are read whole. A source whose message already
/// ends the text is left out: zbus's errors (5.x) say their I/O error in their message
/// (`I/O error: ...`) and return it from `source()` too.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        let said = source.to_string();
        if !line.ends_with(&said) {
            line.push_str(": ");
            line.push_str(&said);
        }
        next = source.source();
    }
    line
}

/// A panic is a bug, but even then the user gets one line, `NAME: internal error: ...`.
fn one_line_panics(name: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.to_string().replace('\n', " ");
        eprintln!("{name}: internal error: {msg}");
    }));
}

/// clap's verdict on the command line: help and version go to stdout with 0; everything
/// else is one line on stderr and [`USAGE`].
fn usage_error(name: &str, e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::from(USAGE);
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
    eprintln!("{name}: error: {line} (see '{name} --help')");
    ExitCode::from(USAGE)
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug)]
    struct Said(&'static str, Option<Box<Said>>);

    impl std::fmt::Display for Said {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Said {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|s| s as _)
        }
    }

    #[test]
    fn every_source_is_said_after_the_error_and_one_the_text_ends_with_is_said_once() {
        // As zbus's I/O error does: the io error in its message and as its source.
        let io = Said("No such file or directory", None);
        let zbus = Said("I/O error: No such file or directory", Some(Box::new(io)));
        let ours = Said("connecting to x failed at connect", Some(Box::new(zbus)));
        assert_eq!(
            one_line(&anyhow::Error::new(ours)),
            "connecting to x failed at connect: I/O error: No such file or directory"
        );
        // A source's message said elsewhere in the line, not at its end, is still said.
        let inner = Said("web.scope", None);
        let outer = Said(
            "stopping web.scope failed",
            Some(Box::new(Said("line 1\nline 2", Some(Box::new(inner))))),
        );
        assert_eq!(
            one_line(&anyhow::Error::new(outer)),
            "stopping web.scope failed: line 1 line 2: web.scope"
        );
    }
}
