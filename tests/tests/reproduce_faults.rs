//! `sdcookie-lab reproduce` on a PID 1 it cannot debug: a clear error naming the step, and
//! nothing left behind. The PID 1 is the stock v241 of `systemd-patch/build-pid1 241`,
//! copied with its debug info stripped (`objcopy --strip-debug`), libraries it loads from
//! its build tree included, so gdb finds `bus_seal_message` but not its argument `b`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sdbus_cookie_tests::{
    assert_named_sandbox_gone, host_mounts, pid1s, run, sdcookie_lab, spawn_reproduce,
};

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn strip_into(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    let st = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(src)
        .arg(dst)
        .status()
        .expect("run objcopy (binutils)");
    assert!(st.success(), "objcopy --strip-debug {}", src.display());
}

/// `binary` and every library it loads from below its own directory, debug info stripped,
/// at the same relative paths under `dir` (so `$ORIGIN`-relative lookups still work).
fn stripped_copy(binary: &Path, dir: &Path) -> PathBuf {
    let root = binary.parent().unwrap();
    let copy = dir.join(binary.file_name().unwrap());
    strip_into(binary, &copy);
    let ldd = Command::new("ldd").arg(binary).output().expect("run ldd");
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let Some((_, rest)) = line.split_once("=> ") else {
            continue;
        };
        let lib = Path::new(rest.split(" (").next().unwrap_or("").trim());
        if let Ok(rel) = lib.strip_prefix(root) {
            strip_into(lib, &dir.join(rel));
        }
    }
    copy
}

#[test]
fn reproduce_on_a_binary_without_debug_info_fails_at_the_gdb_step_and_leaves_nothing() {
    let (stock, _) = pid1s("241");
    let exe = sdcookie_lab();
    let dir =
        TempDir(std::env::temp_dir().join(format!("sdcookie-nodebug-{}", std::process::id())));
    let bin = stripped_copy(&stock, &dir.0);
    let mounts = host_mounts();
    let out = run(
        &exe,
        &[
            "reproduce".as_ref(),
            "--stock".as_ref(),
            bin.as_os_str(),
            "--patched".as_ref(),
            bin.as_os_str(),
            "--lifecycles".as_ref(),
            "1".as_ref(),
        ],
    );
    assert_eq!(out.code, Some(125), "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("stock: move the API-bus cookie with gdb: the binary has no debug info"),
        "{last}"
    );
    assert_eq!(host_mounts(), mounts, "the host's mount table changed");
    assert_named_sandbox_gone(&out.stderr);
}

#[test]
fn reproduce_names_the_step_in_which_pid1_died_and_leaves_nothing() {
    use std::io::{BufRead, BufReader};

    let (stock, patched) = pid1s("241");
    let mounts = host_mounts();
    let mut child = spawn_reproduce(&stock, &patched);
    let mut pid1 = None;
    let mut stderr = Vec::new();
    let mut killed = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        // "reproduce: [stock] systemd 241 up as host pid N in cgroup sandbox-ID, ..."
        if let Some(rest) = line.split_once("up as host pid ").map(|(_, r)| r) {
            pid1 = rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<i32>().ok());
        }
        // The unbounded caller waits 10x the deadline: PID 1 dies in the middle of it.
        if !killed && line.ends_with("[stock] a caller without a deadline") {
            let pid = pid1.expect("the run printed PID 1's host pid");
            let st = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            assert!(st.is_ok_and(|s| s.success()), "kill -KILL {pid}");
            killed = true;
        }
        stderr.push(line);
    }
    let status = child.wait().unwrap();
    let text = stderr.join("\n");
    assert!(killed, "the run never reached the unbounded caller: {text}");
    assert_eq!(status.code(), Some(125), "{text}");
    let last = stderr.last().cloned().unwrap_or_default();
    assert!(
        last.contains("stock: PID 1 died during step 'a caller without a deadline'"),
        "{last}"
    );
    assert_eq!(host_mounts(), mounts, "the host's mount table changed");
    assert_named_sandbox_gone(&text);
}
