//! Side-by-side measurement and the ratio report.
//!
//! A *routine* is `FnMut(iters) -> Duration`: it runs `iters` operations and returns the
//! time they took, excluding any setup (the shape criterion's `iter_custom` wants). The
//! same routine feeds criterion and [`paired`], so both ratios measure the same code.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Whether the bench binary was started in criterion's quick or test mode (CI's
/// `scripts/bench-quick`): then [`paired`] takes fewer, shorter rounds.
pub fn quick_mode() -> bool {
    std::env::args().any(|a| a == "--quick" || a == "--test")
}

/// criterion options (0.5) that take a value, to find the positional filter among the args.
const VALUE_FLAGS: &[&str] = &[
    "--warm-up-time",
    "--measurement-time",
    "--sample-size",
    "--profile-time",
    "--save-baseline",
    "-s",
    "--baseline",
    "-b",
    "--baseline-lenient",
    "--load-baseline",
    "--color",
    "-c",
    "--output-format",
    "--plotting-backend",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--nresamples",
    "--format",
];

/// Whether the paired measurement of `group/ours` vs `group/reference` should run: not when
/// criterion only lists or profiles, and not when a filter on the command line matches
/// neither function (matched as a substring of `group/function`, an approximation of
/// criterion's regex that is exact for plain names).
pub fn paired_wanted(group: &str, ours: &str, reference: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .iter()
        .any(|a| a == "--list" || a == "--profile-time" || a.starts_with("--profile-time="))
    {
        return false;
    }
    let mut filter = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if VALUE_FLAGS.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') {
            filter = Some(a.clone());
            break;
        }
        i += 1;
    }
    filter.is_none_or(|f| {
        let f = f.trim_start_matches('^').trim_end_matches('$');
        format!("{group}/{ours}").contains(f) || format!("{group}/{reference}").contains(f)
    })
}

/// The result of an interleaved ours-vs-reference measurement.
#[derive(Clone, Copy, Debug)]
pub struct Paired {
    /// Median over the rounds of (ours ns/op) / (reference ns/op).
    pub median: f64,
    /// First quartile of the per-round ratios.
    pub q1: f64,
    /// Third quartile of the per-round ratios.
    pub q3: f64,
    /// Rounds taken.
    pub rounds: usize,
    /// Median ns per operation of ours over the rounds.
    pub ours_ns: f64,
    /// Median ns per operation of the reference over the rounds.
    pub reference_ns: f64,
}

/// How many operations make one round of `routine` last about `target`.
fn calibrate(routine: &mut dyn FnMut(u64) -> Duration, target: Duration) -> u64 {
    let mut n = 1u64;
    loop {
        let t = routine(n);
        if t >= target || n >= 1 << 40 {
            return n;
        }
        let grow = if t.is_zero() {
            16.0
        } else {
            (target.as_secs_f64() / t.as_secs_f64() * 1.1).clamp(2.0, 16.0)
        };
        n = ((n as f64) * grow).ceil() as u64;
    }
}

fn median_sorted(v: &[f64], q: f64) -> f64 {
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}

/// Times `ours` and `reference` in alternating rounds (ABBA order, so drift in the
/// machine's load cancels) and returns the distribution of the per-round ratios
/// ours/reference, per operation.
pub fn paired(
    ours: &mut dyn FnMut(u64) -> Duration,
    reference: &mut dyn FnMut(u64) -> Duration,
) -> Paired {
    if quick_mode() {
        paired_with(ours, reference, Duration::from_millis(2), 5)
    } else {
        paired_with(ours, reference, Duration::from_millis(20), 41)
    }
}

/// [`paired`] with a chosen round length and count (in quick mode: 5 rounds of a tenth),
/// for operations that take milliseconds and vary a lot one by one.
pub fn paired_long(
    ours: &mut dyn FnMut(u64) -> Duration,
    reference: &mut dyn FnMut(u64) -> Duration,
    round: Duration,
    rounds: usize,
) -> Paired {
    if quick_mode() {
        paired_with(ours, reference, round / 10, 5)
    } else {
        paired_with(ours, reference, round, rounds)
    }
}

fn paired_with(
    ours: &mut dyn FnMut(u64) -> Duration,
    reference: &mut dyn FnMut(u64) -> Duration,
    round: Duration,
    rounds: usize,
) -> Paired {
    let n_ours = calibrate(ours, round);
    let n_ref = calibrate(reference, round);
    let per_op = |t: Duration, n: u64| t.as_secs_f64() * 1e9 / n as f64;
    let mut ratios = Vec::with_capacity(rounds);
    let mut o_ns = Vec::with_capacity(rounds);
    let mut r_ns = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let (o, r) = if i % 2 == 0 {
            let o = ours(n_ours);
            (o, reference(n_ref))
        } else {
            let r = reference(n_ref);
            (ours(n_ours), r)
        };
        let (o, r) = (per_op(o, n_ours), per_op(r, n_ref));
        o_ns.push(o);
        r_ns.push(r);
        ratios.push(o / r);
    }
    for v in [&mut ratios, &mut o_ns, &mut r_ns] {
        v.sort_by(f64::total_cmp);
    }
    Paired {
        median: median_sorted(&ratios, 0.5),
        q1: median_sorted(&ratios, 0.25),
        q3: median_sorted(&ratios, 0.75),
        rounds,
        ours_ns: median_sorted(&o_ns, 0.5),
        reference_ns: median_sorted(&r_ns, 0.5),
    }
}

/// The goal a row is held to (benches/README.md), as a bound on ours/reference.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// ours/reference ≤ this.
    AtMost(f64),
    /// ours at least this many times faster: ours/reference ≤ 1/this.
    FasterBy(f64),
    /// Informational row, no target.
    None,
}

impl Target {
    fn met(self, ratio: f64) -> Option<bool> {
        match self {
            Target::AtMost(x) => Some(ratio <= x),
            Target::FasterBy(x) => Some(ratio <= 1.0 / x),
            Target::None => None,
        }
    }

    fn describe(self) -> String {
        match self {
            Target::AtMost(x) => format!("<= {x}"),
            Target::FasterBy(x) => format!(">= {x}x faster"),
            Target::None => "-".to_owned(),
        }
    }
}

/// One comparison of a group: two criterion functions and their paired measurement.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    /// criterion function id of ours.
    pub ours: &'a str,
    /// criterion function id of the reference.
    pub reference: &'a str,
    /// The interleaved measurement of the two.
    pub paired: Paired,
    /// What the ratio must reach.
    pub target: Target,
}

/// Where criterion writes its results: the same rules criterion 0.5 follows
/// (`$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, cargo metadata's target dir).
pub fn criterion_home() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    let from_metadata = std::env::var_os("CARGO").and_then(|cargo| {
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let key = "\"target_directory\":\"";
        let start = text.find(key)? + key.len();
        let end = start + text[start..].find('"')?;
        Some(PathBuf::from(&text[start..end]).join("criterion"))
    });
    from_metadata.unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// criterion's median estimate (ns per iteration) of `group/function` from this run, if
/// criterion measured it (not in `--test` mode).
pub fn criterion_median_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_home()
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = fs::read_to_string(path).ok()?;
    let median = &text[text.find("\"median\"")?..];
    let key = "\"point_estimate\":";
    let start = median.find(key)? + key.len();
    let len = median[start..].find([',', '}'])?;
    median[start..start + len].trim().parse().ok()
}

fn fmt_ratio(r: f64) -> String {
    if r < 0.01 {
        format!("{r:.3e}")
    } else {
        format!("{r:.4}")
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} us", ns / 1e3)
    } else {
        format!("{ns:.3} ns")
    }
}

/// Prints the ratios of a group and appends them to `<criterion home>/sdbus-cookie-ratios.tsv`
/// (one line per row: date, group, ours, reference, ns/op of both, paired ratio and
/// quartiles, criterion ratio, target, met) so the README table can be filled from a run.
pub fn print_group_ratios(group: &str, rows: &[Row<'_>]) {
    let mut tsv = String::new();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    for row in rows {
        let p = row.paired;
        let crit = criterion_median_ns(group, row.ours)
            .zip(criterion_median_ns(group, row.reference))
            .map(|(o, r)| o / r);
        let met = match row.target.met(p.median) {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "info",
        };
        println!(
            "RATIO {group}: {ours} / {reference} = {m} (paired median of {n} rounds, IQR \
             {q1}..{q3}; {on} vs {rn} per op){c}; target {t}: {met}",
            ours = row.ours,
            reference = row.reference,
            m = fmt_ratio(p.median),
            n = p.rounds,
            q1 = fmt_ratio(p.q1),
            q3 = fmt_ratio(p.q3),
            on = fmt_ns(p.ours_ns),
            rn = fmt_ns(p.reference_ns),
            c = crit.map_or(String::new(), |c| format!(
                "; criterion medians {}",
                fmt_ratio(c)
            )),
            t = row.target.describe(),
        );
        if p.median < 1.0 {
            println!(
                "      ours is {:.1}x faster than the reference",
                1.0 / p.median
            );
        }
        let _ = writeln!(
            tsv,
            "{date}\t{group}\t{}\t{}\t{:.4}\t{:.4}\t{:.4e}\t{:.4e}\t{:.4e}\t{}\t{}\t{met}",
            row.ours,
            row.reference,
            p.ours_ns,
            p.reference_ns,
            p.median,
            p.q1,
            p.q3,
            crit.map_or("-".to_owned(), |c| format!("{c:.4e}")),
            row.target.describe(),
        );
    }
    let home = criterion_home();
    let _ = fs::create_dir_all(&home);
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("sdbus-cookie-ratios.tsv"))
    {
        let _ = f.write_all(tsv.as_bytes());
    }
}
