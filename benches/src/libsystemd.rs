//! The real libsystemd, for the `libsystemd` bench: optimised builds of one systemd release
//! (stock, with our patch, ...) from `systemd-patch/build-bench-libs`, each driven by a
//! worker process of its own (`c/libsystemd_worker.c`, built by `build.rs`).
//!
//! Every build exports the same `sd_bus_*` symbols under the same soname, so two of them
//! cannot share a process; each worker `dlopen()`s one and runs the operations the bench
//! asks for on its own connections, timing them itself. Workers end when the bench closes
//! their stdin (or dies: they ask the kernel for SIGKILL then) and are reaped by pid.
//!
//! A routine's operations are spread over [`PROCESSES`] workers of its build, each with a
//! heap laid out differently (its own HEAP-PAD): two processes of one build measure a few per
//! cent apart by themselves (where malloc finds room, where the library was mapped), as
//! much as the differences between builds the bench is asked about, so a ratio of single
//! processes compares processes as much as builds.
//!
//! Everything starts lazily, on the first operation a routine asks for, so `--list` or a
//! filter that names none of these groups builds and starts nothing.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Worker processes per build behind each routine (and as many again for the A/A rows).
pub const PROCESSES: usize = 4;

/// Each worker's HEAP-PAD (`c/libsystemd_worker.c`), by its place among a routine's
/// workers: blocks of these sizes allocated first shift every later heap address. Four of
/// the seven layouts `scripts/bench-instructions --libsystemd` counts; for 241's signal
/// they hold both of the modes its counts fall in (malloc's quick paths, or unlinking and
/// consolidating chunks), for stock and for the stateful build (benches/README.md).
const HEAP_PADS: [u32; PROCESSES] = [0, 40, 200, 1000];

/// What one connection of a worker does per operation (`c/libsystemd_worker.c` says how).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// Before the cycle: one signal sealed by the bus, sent, flushed.
    Fast,
    /// After the cycle, 1,000 async calls pending, scattered ahead: one async call, and its
    /// slot freed.
    Scattered,
    /// After the cycle, 100,000 async calls pending right after the current cookie: one
    /// async call, which must skip the run.
    Run,
    /// As `Run` with nothing pending.
    Empty,
    /// Before the cycle: one async call, and its slot freed.
    FastCall,
}

impl Scenario {
    fn word(self) -> &'static str {
        match self {
            Scenario::Fast => "fast",
            Scenario::Scattered => "scattered",
            Scenario::Run => "run",
            Scenario::Empty => "empty",
            Scenario::FastCall => "fastcall",
        }
    }

    fn id(self) -> u32 {
        self as u32
    }
}

/// A build: a systemd release and a variant of systemd-patch/lib.sh (`stock`, `patched`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Build {
    /// The release, e.g. `252`.
    pub release: &'static str,
    /// The variant, e.g. `stock`.
    pub variant: &'static str,
}

impl Build {
    /// The build of `variant` (`stock`, `patched`, `stateful`) of `release`.
    pub const fn new(release: &'static str, variant: &'static str) -> Build {
        Build { release, variant }
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.release, self.variant)
    }
}

/// An error a worker reported for an operation (a wrong cookie, a failed call), or a
/// worker that could not be started.
#[derive(Debug, Clone)]
pub struct WorkerError {
    /// Which build.
    pub build: Build,
    /// What the worker said.
    pub message: String,
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.build, self.message)
    }
}

impl std::error::Error for WorkerError {}

struct Worker {
    build: Build,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    open: Vec<Scenario>,
}

impl Worker {
    fn spawn(build: Build, lib: &Path, pad: u32) -> Worker {
        let exe = env!("SDBENCH_LIBSYSTEMD_WORKER");
        let mut child = Command::new(exe)
            .arg(lib)
            .arg(pad.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {exe} for {build}: {e}"));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Worker {
            build,
            child,
            stdin,
            stdout,
            open: Vec::new(),
        }
    }

    fn ask(&mut self, line: &str) -> Result<String, WorkerError> {
        let err = |message: String| WorkerError {
            build: self.build,
            message,
        };
        let stdin = self.stdin.as_mut().expect("open until drop");
        writeln!(stdin, "{line}").map_err(|e| err(format!("writing to the worker: {e}")))?;
        stdin
            .flush()
            .map_err(|e| err(format!("writing to the worker: {e}")))?;
        let mut answer = String::new();
        let n = self
            .stdout
            .read_line(&mut answer)
            .map_err(|e| err(format!("reading from the worker: {e}")))?;
        if n == 0 {
            return Err(err(format!("the worker ended (asked: {line})")));
        }
        let answer = answer.trim_end().to_owned();
        match answer.strip_prefix("error ") {
            Some(msg) => Err(err(msg.to_owned())),
            None => Ok(answer),
        }
    }

    fn ensure_open(&mut self, s: Scenario) -> Result<(), WorkerError> {
        if !self.open.contains(&s) {
            self.ask(&format!("open {} {}", s.id(), s.word()))?;
            self.open.push(s);
        }
        Ok(())
    }

    /// `n` operations of scenario `s`: their time and the last cookie handed out.
    fn run(&mut self, s: Scenario, n: u64) -> Result<(Duration, u64), WorkerError> {
        self.ensure_open(s)?;
        let answer = self.ask(&format!("run {} {n}", s.id()))?;
        let bad = || WorkerError {
            build: self.build,
            message: format!("unexpected answer '{answer}'"),
        };
        let mut words = answer.split(' ');
        let (Some("ns"), Some(ns), Some(cookie)) = (words.next(), words.next(), words.next())
        else {
            return Err(bad());
        };
        let ns: u64 = ns.parse().map_err(|_| bad())?;
        let cookie = u64::from_str_radix(cookie.trim_start_matches("0x"), 16).map_err(|_| bad())?;
        Ok((Duration::from_nanos(ns), cookie))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // End of stdin: the worker closes its connections, joins its peers and exits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => break,
            }
        }
        // Child::kill signals this child's own pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The builds of a bench run and their workers, started on first use.
pub struct Lab {
    builds: Vec<Build>,
    libs: Option<BTreeMap<Build, PathBuf>>,
    /// Keyed by build and instance: instances `0..PROCESSES` serve the build's routines,
    /// `PROCESSES..2 * PROCESSES` the A/A rows (the same build in other processes).
    workers: BTreeMap<(Build, usize), Worker>,
    /// Which of a routine's workers takes the first of the operations that do not divide
    /// evenly among them; it moves on every run, so that a routine of one slow operation
    /// per run still visits every worker.
    turn: usize,
}

impl fmt::Debug for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lab")
            .field("builds", &self.builds)
            .field("started", &self.started())
            .finish()
    }
}

/// A [`Lab`] shared by the routines of several groups.
pub type SharedLab = Rc<RefCell<Lab>>;

impl Lab {
    /// A lab for `builds`; nothing is built or started yet.
    pub fn new(builds: &[Build]) -> SharedLab {
        Rc::new(RefCell::new(Lab {
            builds: builds.to_vec(),
            libs: None,
            workers: BTreeMap::new(),
            turn: 0,
        }))
    }

    /// Instance `instance` of `build`'s worker, built and started on first use (the
    /// routines' workers of every build are started at once, in the order of `builds`).
    fn worker(&mut self, build: Build, instance: usize) -> &mut Worker {
        assert!(
            self.builds.contains(&build),
            "{build} is not one of this lab's builds"
        );
        if self.libs.is_none() {
            let libs = build_libs(&self.builds);
            for b in &self.builds {
                for (i, pad) in HEAP_PADS.into_iter().enumerate() {
                    self.workers
                        .insert((*b, i), Worker::spawn(*b, &libs[b], pad));
                }
            }
            self.libs = Some(libs);
        }
        let lib = &self.libs.as_ref().expect("set above")[&build];
        self.workers
            .entry((build, instance))
            .or_insert_with(|| Worker::spawn(build, lib, HEAP_PADS[instance % PROCESSES]))
    }

    /// `n` operations of `s` on `build`, spread evenly over its routines' workers: their
    /// total time and the last cookie handed out (by the worker that ran last).
    pub fn run(
        &mut self,
        build: Build,
        s: Scenario,
        n: u64,
    ) -> Result<(Duration, u64), WorkerError> {
        self.run_on(build, 0, s, n)
    }

    /// As [`Lab::run`], on other processes of the same build (the A/A rows).
    pub fn run_again(
        &mut self,
        build: Build,
        s: Scenario,
        n: u64,
    ) -> Result<(Duration, u64), WorkerError> {
        self.run_on(build, PROCESSES, s, n)
    }

    /// `n` operations over workers `first..first + PROCESSES` of `build`.
    fn run_on(
        &mut self,
        build: Build,
        first: usize,
        s: Scenario,
        n: u64,
    ) -> Result<(Duration, u64), WorkerError> {
        let (share, extra) = (n / PROCESSES as u64, n % PROCESSES as u64);
        let turn = self.turn;
        self.turn = (turn + 1) % PROCESSES;
        let mut total = Duration::ZERO;
        let mut last = None;
        for j in 0..PROCESSES {
            let ops = share + u64::from((j as u64) < extra);
            if ops == 0 {
                break;
            }
            let (t, cookie) = self
                .worker(build, first + (turn + j) % PROCESSES)
                .run(s, ops)?;
            total += t;
            last = Some(cookie);
        }
        let cookie = last.ok_or_else(|| WorkerError {
            build,
            message: "asked for no operation".to_owned(),
        })?;
        Ok((total, cookie))
    }

    /// Whether the builds are ready (some routine ran).
    pub fn started(&self) -> bool {
        self.libs.is_some()
    }
}

/// A criterion routine: `iters` operations of `s` on `build`; a worker's error ends the bench.
pub fn routine(lab: &SharedLab, build: Build, s: Scenario) -> crate::group::Routine {
    let lab = Rc::clone(lab);
    Box::new(move |iters| match lab.borrow_mut().run(build, s, iters) {
        Ok((t, _)) => t,
        Err(e) => panic!("{e}"),
    })
}

/// As [`routine`], in a second process of the same build (the A/A control).
pub fn routine_again(lab: &SharedLab, build: Build, s: Scenario) -> crate::group::Routine {
    let lab = Rc::clone(lab);
    Box::new(
        move |iters| match lab.borrow_mut().run_again(build, s, iters) {
            Ok((t, _)) => t,
            Err(e) => panic!("{e}"),
        },
    )
}

/// `systemd-patch/build-bench-libs` for `builds` (building what the cache misses; its
/// progress, hits and misses go to stderr): the path of each build's libsystemd.so.
fn build_libs(builds: &[Build]) -> BTreeMap<Build, PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd-patch/build-bench-libs");
    let started = Instant::now();
    let out = Command::new(&script)
        .args(builds.iter().map(|b| b.to_string()))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); its errors are above",
        script.display(),
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = BTreeMap::new();
    for b in builds {
        let path = text
            .lines()
            .find_map(|l| {
                let mut w = l.splitn(3, ' ');
                (w.next() == Some(b.release) && w.next() == Some(b.variant))
                    .then(|| PathBuf::from(w.next().unwrap_or("")))
            })
            .unwrap_or_else(|| panic!("{} printed no line for {b}", script.display()));
        libs.insert(*b, path);
    }
    eprintln!(
        "libsystemd builds ready in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        builds
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    libs
}
