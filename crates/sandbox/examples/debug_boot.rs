//! Boots one sandbox and prints where things are and what PID 1 logged (for debugging a host).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = sdbus_sandbox::Sandbox::boot(sdbus_sandbox::SandboxOptions::default())?;
    println!(
        "id {} pid {} version {}",
        sandbox.id(),
        sandbox.pid(),
        sandbox.systemd_version()
    );
    for p in sandbox.host_cgroup_paths() {
        println!("cgroup {}", p.display());
    }
    let pid = sandbox.pid();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let fd = fd?;
        println!(
            "fd {:?} -> {:?}",
            fd.file_name(),
            std::fs::read_link(fd.path()).ok()
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _sleeper = sandbox.command("sleep").arg("30").spawn()?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    println!("--- log ---\n{}", sandbox.log());
    let out = sandbox.command("sh").args(["-c", "cat /proc/self/mountinfo; ls -la /run/sdbus-sandbox; cat /run/sdbus-sandbox/console | head"]).output()?;
    println!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
