//! What the operator's doctor says inside the sandbox.

use std::time::Instant;

use crate::doctor::{self, DoctorError};

use super::drive::Ctx;
use super::text::{answers, hex};
use super::{progress, ReproduceError};
use sdcookie::report::Report;

/// The operator's `sdcookie doctor --format json`, inside the sandbox (the private socket
/// only answers peers in systemd's PID namespace).
pub(super) fn run_doctor(cx: &Ctx<'_>) -> Result<Report, ReproduceError> {
    let t = Instant::now();
    let v = doctor::report(cx.sandbox, cx.operator, Some(cx.timeout)).map_err(|e| match e {
        DoctorError::Sandbox(e) => cx.sandbox_err(e),
        e => cx.tool_err(format!("{:#}", anyhow::Error::new(e))),
    })?;
    let seconds = t.elapsed().as_secs_f64();
    progress(format!(
        "[{}] doctor: bus {} | private socket {} | cookie {} | cycled {:?} | {} ({seconds:.1} s)",
        cx.build,
        answers(v.bus_responsive),
        answers(v.private_responsive),
        hex(v.cookie),
        v.cycled,
        v.verdict
    ));
    Ok(v)
}
