//! The async client on tokio (current-thread and multi-thread) and on async-io, and the
//! blocking client outside any runtime, against a real systemd in a sandbox. Run once as
//! the workspace builds it and once with this crate's `zbus-tokio` feature, which turns on
//! zbus's `tokio` feature the way a tokio-based runtime crate would: neither may panic with
//! "there is no reactor running" (zbus#384), and deadlines must hold on every executor.

use std::time::Duration;

use sdbus_cgroup::{AsyncClient, Client, Error, Resources, Scope, Step};
use sdbus_sandbox::Sandbox;
use sdbus_test_support::sandbox::{boot, options_with_call_timeout as options, sleeper, target};

/// One scope's whole life through the async API; returns the pids.max systemd wrote.
async fn lifecycle(c: &AsyncClient, sb: &Sandbox, unit: &str, pid: u32) -> String {
    let mut scope = Scope::new(unit, vec![pid]);
    scope.resources = Resources::new().pids_limit(17);
    let started = c.start_scope(&scope).await.expect("start_scope");
    assert!(!started.existed);
    let cg = c.control_group(unit).await.expect("control_group");
    assert_eq!(c.unit_state(unit, "ActiveState").await.unwrap(), "active");
    let pids_max = sb.read_cgroup_file(&cg, "pids.max").expect("pids.max");
    c.stop(unit).await.expect("stop");
    assert_eq!(c.unit_path(unit).await.unwrap(), None, "unit left behind");
    pids_max
}

#[tokio::test(flavor = "current_thread")]
async fn async_client_on_a_tokio_current_thread_runtime() {
    let sb = boot();
    let mut child = sleeper(&sb);
    let c = AsyncClient::connect(target(&sb), options(&sb, Duration::from_secs(20)))
        .await
        .expect("connect");
    assert_eq!(
        lifecycle(&c, &sb, "tokio-ct.scope", child.pid()).await,
        "17"
    );
    let _ = child.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_futures_are_send_and_run_on_tokio_workers() {
    let sb = std::sync::Arc::new(boot());
    let mut child = sleeper(&sb);
    let c = std::sync::Arc::new(AsyncClient::new(
        target(&sb),
        options(&sb, Duration::from_secs(20)),
    ));
    let pid = child.pid();
    // tokio::spawn requires Send futures: this would not compile otherwise.
    let task = {
        let (c, sb) = (c.clone(), sb.clone());
        tokio::spawn(async move { lifecycle(&c, &sb, "tokio-mt.scope", pid).await })
    };
    assert_eq!(task.await.unwrap(), "17");
    let _ = child.kill();
}

#[test]
fn async_client_on_async_io() {
    let sb = boot();
    let mut child = sleeper(&sb);
    async_io::block_on(async {
        let c = AsyncClient::connect(target(&sb), options(&sb, Duration::from_secs(20)))
            .await
            .expect("connect");
        assert_eq!(
            lifecycle(&c, &sb, "async-io.scope", child.pid()).await,
            "17"
        );
    });
    let _ = child.kill();
}

#[test]
fn blocking_client_outside_any_runtime() {
    let sb = boot();
    let mut child = sleeper(&sb);
    let c = Client::connect(target(&sb), options(&sb, Duration::from_secs(20))).expect("connect");
    let mut scope = Scope::new("blocking.scope", vec![child.pid()]);
    scope.resources.pids_limit = Some(9);
    c.start_scope(&scope).expect("start_scope");
    let cg = c.control_group("blocking.scope").unwrap();
    assert_eq!(sb.read_cgroup_file(&cg, "pids.max").unwrap(), "9");
    c.stop("blocking.scope").expect("stop");
    let _ = child.kill();
}

#[tokio::test(flavor = "current_thread")]
async fn a_stalled_systemd_is_a_typed_timeout_on_tokio() {
    let sb = boot();
    let c = AsyncClient::connect(target(&sb), options(&sb, Duration::from_millis(500)))
        .await
        .expect("connect");
    let pid1 = nix::unistd::Pid::from_raw(sb.pid() as i32);
    nix::sys::signal::kill(pid1, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    let r = c.unit_path("nothing.scope").await;
    nix::sys::signal::kill(pid1, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    match r {
        Err(Error::Timeout {
            step: Step::GetUnit,
            after,
            ..
        }) => assert_eq!(after, Duration::from_millis(500)),
        other => panic!("expected a GetUnit timeout, got {other:?}"),
    }
    // After systemd resumes, the same client answers again.
    let mut ok = false;
    for _ in 0..50 {
        if c.unit_path("nothing.scope").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "no answer after SIGCONT");
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_call_future_quarantines_its_cookie_until_the_late_reply() {
    let sb = boot();
    let c = AsyncClient::connect(target(&sb), options(&sb, Duration::from_secs(20)))
        .await
        .expect("connect");
    let pid1 = nix::unistd::Pid::from_raw(sb.pid() as i32);
    nix::sys::signal::kill(pid1, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    // The caller's own deadline (tokio's) drops our future while the call is in flight.
    let r = tokio::time::timeout(Duration::from_millis(300), c.unit_path("late.scope")).await;
    let during = c.stats();
    nix::sys::signal::kill(pid1, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    assert!(
        r.is_err(),
        "the call finished while systemd was stopped: {r:?}"
    );
    assert_eq!(during.quarantined, 1, "{during:?}");
    assert_eq!(during.waiting_calls, 1, "the slot waits for the late reply");
    // systemd resumes and answers; the late reply releases the cookie.
    let mut released = false;
    for _ in 0..100 {
        let s = c.stats();
        if s.quarantined == 0 && s.late_replies == 1 && s.waiting_calls == 0 {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(released, "{:?}", c.stats());
    assert_eq!(c.unit_path("late.scope").await.unwrap(), None);
}
