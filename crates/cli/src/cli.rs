//! The command line, as clap derive types. Values are checked by the parsers in
//! [`sdcookie::parse`], so a command only ever sees valid input.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sdcookie::{parse, Format};

const EXIT_CODES: &str = "\
Exit codes:
  doctor          0 ok, 1 problem (warning or critical), 2 unknown (no systemd could be asked)
                  -- node-problem-detector's custom-plugin protocol; 125 if --output
                  could not be written (the previous file is left as it was); with
                  --every it runs until killed and exits only with 125
  relay           the exit code of the verdict in FILE, as doctor would have exited;
                  2 (unknown) if FILE is missing, unreadable, malformed or too old
  scope run       the command's own status (128+N if killed by signal N); 125 if sdcookie
                  itself failed, 126 if the command could not be run, 127 if not found
  scope update,
  scope stop      0 done, 125 failed
  any             2 bad command-line input (one line on stderr)";

/// Reads and guards the D-Bus cookie of systemd (PID 1); drives transient scopes.
#[derive(Debug, Parser)]
#[command(name = "sdcookie", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report how close systemd's API-bus cookie is to 0xffffffff (no gdb needed).
    #[command(after_help = EXIT_CODES)]
    Doctor(DoctorArgs),
    /// Run a command in a transient systemd scope with cgroup limits; update or stop one.
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Print the verdict line `doctor --npd --output FILE` wrote and exit as it did: the
    /// node-problem-detector plugin that needs no privilege (the doctor runs elsewhere).
    #[command(after_help = EXIT_CODES)]
    Relay(RelayArgs),
}

/// `sdcookie doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// D-Bus address of the system bus, unix:path=/ABSOLUTE/PATH only [default:
    /// $DBUS_SYSTEM_BUS_ADDRESS or unix:path=/run/dbus/system_bus_socket].
    #[arg(long, value_name = "ADDR", value_parser = parse::bus_address)]
    pub address: Option<String>,
    /// systemd's private socket.
    #[arg(long, value_name = "PATH", default_value = "/run/systemd/private")]
    pub private: PathBuf,
    /// Sample twice, this far apart, to report the rate and the time left (e.g. 10s).
    #[arg(long, value_name = "DUR", value_parser = parse::positive_duration)]
    pub interval: Option<Duration>,
    /// Deadline of each step (connect, call).
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse::positive_duration)]
    pub timeout: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// node-problem-detector mode: print one line ("ok: ...") whatever --format says.
    #[arg(long)]
    pub npd: bool,
    /// Write the report to FILE instead of stdout, atomically: a temporary file in the same
    /// directory, synced, then renamed over FILE (for node_exporter's textfile directory).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Run again this long after each run ends, forever, replacing --output each time (a
    /// container that only runs the doctor; `sdcookie relay` reads the file).
    #[arg(long, value_name = "DUR", requires = "output", value_parser = parse::positive_duration)]
    pub every: Option<Duration>,
}

/// `sdcookie relay`.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// A report older than this (by its modification time) is not believed: the doctor
    /// that should replace it has stopped.
    #[arg(long, value_name = "DUR", value_parser = parse::positive_duration)]
    pub max_age: Duration,
    /// The file `sdcookie doctor --npd --output FILE` writes.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `sdcookie scope ...`.
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Run CMD in a new transient scope with these limits; wait, stop and reset the unit.
    #[command(after_help = EXIT_CODES)]
    Run(ScopeRunArgs),
    /// Change the limits of a running scope.
    #[command(after_help = EXIT_CODES)]
    Update(ScopeUpdateArgs),
    /// Stop a scope (and reset its failed state).
    #[command(after_help = EXIT_CODES)]
    Stop(ScopeStopArgs),
}

/// Where the systemd to talk to is, and how long to wait for it.
#[derive(Debug, Clone, Args)]
pub struct Connect {
    /// D-Bus address of the system bus, unix:path=/ABSOLUTE/PATH only [default:
    /// $DBUS_SYSTEM_BUS_ADDRESS or unix:path=/run/dbus/system_bus_socket].
    #[arg(long, value_name = "ADDR", value_parser = parse::bus_address)]
    pub address: Option<String>,
    /// Deadline of each D-Bus call and job.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse::positive_duration)]
    pub timeout: Duration,
}

/// The cgroup limits a scope can get.
#[derive(Debug, Clone, Default, Args)]
pub struct Limits {
    /// Hard memory limit (K/M/G/T suffixes, or infinity): MemoryMax (v1: MemoryLimit).
    #[arg(long, value_name = "BYTES", value_parser = parse::size)]
    pub memory_max: Option<u64>,
    /// Memory throttling threshold: MemoryHigh (cgroup v2 only).
    #[arg(long, value_name = "BYTES", value_parser = parse::size)]
    pub memory_high: Option<u64>,
    /// Maximum number of tasks (>= 1, or infinity): TasksMax.
    #[arg(long, value_name = "N", value_parser = parse::tasks)]
    pub tasks_max: Option<u64>,
    /// CPU weight 1..=10000: CPUWeight (cgroup v1: CPUShares = W*1024/100, systemd's mapping).
    #[arg(long, value_name = "W", value_parser = parse::cpu_weight)]
    pub cpu_weight: Option<u64>,
    /// CPU time in percent of one CPU (e.g. 50 or 150%): CPUQuota.
    #[arg(long, value_name = "PERCENT", value_parser = parse::cpu_quota)]
    pub cpu_quota: Option<u64>,
    /// CPUs the scope may run on, e.g. 0-3,8: AllowedCPUs (systemd >= 244, cgroup v2).
    #[arg(long, value_name = "LIST", value_parser = parse::cpu_list)]
    pub allowed_cpus: Option<parse::CpuList>,
}

impl Limits {
    /// True when no limit was given.
    pub fn is_empty(&self) -> bool {
        self.memory_max.is_none()
            && self.memory_high.is_none()
            && self.tasks_max.is_none()
            && self.cpu_weight.is_none()
            && self.cpu_quota.is_none()
            && self.allowed_cpus.is_none()
    }
}

/// `sdcookie scope run`.
#[derive(Debug, Args)]
pub struct ScopeRunArgs {
    /// Unit name; ".scope" is added when missing.
    #[arg(long, value_parser = parse::scope_name)]
    pub name: String,
    /// Slice to put the scope in.
    #[arg(long, value_name = "SLICE")]
    pub slice: Option<String>,
    /// Limits.
    #[command(flatten)]
    pub limits: Limits,
    /// Connection.
    #[command(flatten)]
    pub connect: Connect,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `sdcookie scope update`.
#[derive(Debug, Args)]
pub struct ScopeUpdateArgs {
    /// Unit name; ".scope" is added when missing.
    #[arg(value_parser = parse::scope_name)]
    pub name: String,
    /// Limits.
    #[command(flatten)]
    pub limits: Limits,
    /// Connection.
    #[command(flatten)]
    pub connect: Connect,
}

/// `sdcookie scope stop`.
#[derive(Debug, Args)]
pub struct ScopeStopArgs {
    /// Unit name; ".scope" is added when missing.
    #[arg(value_parser = parse::scope_name)]
    pub name: String,
    /// Connection.
    #[command(flatten)]
    pub connect: Connect,
}

#[cfg(test)]
mod tests;
