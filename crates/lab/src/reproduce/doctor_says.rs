//! What the operator's doctor says inside the sandbox.

use std::time::Instant;

use crate::doctor::{self, DoctorError};

use super::drive::Ctx;
use super::text::{answers, hex};
use super::{progress, DoctorSays, ReproduceError};

/// The operator's `sdcookie doctor --format json`, inside the sandbox (the private socket
/// only answers peers in systemd's PID namespace).
pub(super) fn run_doctor(cx: &Ctx<'_>) -> Result<DoctorSays, ReproduceError> {
    let t = Instant::now();
    let v = doctor::report(cx.sandbox, cx.operator, Some(cx.timeout)).map_err(|e| match e {
        DoctorError::Sandbox(e) => cx.sandbox_err(e),
        e => cx.tool_err(format!("{:#}", anyhow::Error::new(e))),
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let f = |k: &str| v.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let says = DoctorSays {
        bus_responsive: f("bus_responsive") == true,
        private_responsive: f("private_responsive") == true,
        cookie: f("cookie").as_u64().and_then(|c| u32::try_from(c).ok()),
        cycled: f("cycled").as_bool(),
        version: f("systemd_version_string").as_str().map(str::to_owned),
        verdict: f("verdict").as_str().unwrap_or("?").to_owned(),
        message: f("message").as_str().unwrap_or("").to_owned(),
    };
    progress(format!(
        "[{}] doctor: bus {} | private socket {} | cookie {} | cycled {:?} | {} ({seconds:.1} s)",
        cx.build,
        answers(says.bus_responsive),
        answers(says.private_responsive),
        hex(says.cookie),
        says.cycled,
        says.verdict
    ));
    Ok(says)
}
