//! The patched PID 1 past the edge: the serial wraps to 0x80000000 and the work goes on.

use sdcookie::exit::chain;

use crate::{CEILING, CYCLED};

use super::doctor_says::run_doctor;
use super::drive::Ctx;
use super::text::{answers, hex};
use super::{progress, Details, ReproduceArgs, ReproduceError, Run};
use sdcookie::report::Verdict;

/// patched: 0x80000000 after 0xffffffff, the lifecycles, the doctor.
pub(super) fn patched_after_edge(
    cx: &mut Ctx<'_>,
    details: &mut Details,
    at_edge: u32,
    landed: Option<u32>,
    args: &ReproduceArgs,
) -> Result<Run, ReproduceError> {
    cx.claim(
        at_edge == CEILING && landed == Some(CYCLED),
        format!(
            "after {at_edge:#010x} systemd's next serial was {}",
            hex(landed)
        ),
    );
    cx.step("scope lifecycles after the edge")?;
    let (mut ok, mut failed_calls, mut in_a_row) = (0u64, 0u64, 0u32);
    let mut first_error = None;
    for i in 0..args.lifecycles {
        match cx.lifecycle()? {
            Ok(()) => {
                ok += 1;
                in_a_row = 0;
            }
            Err(e) => {
                failed_calls += 1;
                in_a_row += 1;
                first_error.get_or_insert_with(|| chain(&e));
                if in_a_row >= 3 {
                    break;
                }
            }
        }
        if (i + 1) % 100 == 0 {
            progress(format!(
                "[{}] {} lifecycles after the edge, serial {:#010x}",
                cx.build,
                i + 1,
                cx.peer()
            ));
        }
    }
    cx.claim(
        ok == u64::from(args.lifecycles) && failed_calls == 0,
        format!(
            "{ok} of {} lifecycles after the edge succeeded, {failed_calls} failed calls{}",
            args.lifecycles,
            first_error.map_or(String::new(), |e| format!(" (first: {e})"))
        ),
    );
    cx.step("the doctor")?;
    let doctor = run_doctor(cx)?;
    details.doctor_message = doctor.message.clone();
    details.doctor_cycled = doctor.cycled;
    cx.claim(
        doctor.bus_responsive && doctor.cycled == Some(true) && doctor.verdict == Verdict::Ok,
        format!(
            "doctor: bus {}, cycled {:?}, verdict {}",
            answers(doctor.bus_responsive),
            doctor.cycled,
            doctor.verdict
        ),
    );
    Ok(Run {
        systemd_version: cx.sandbox.systemd_version().to_owned(),
        cookie_set_to: args.cookie,
        last_serial_before_edge: at_edge,
        first_serial_after_edge: landed,
        client_error: None,
        doctor_verdict: doctor.verdict,
        bus_responsive: doctor.bus_responsive,
        private_socket_responsive: doctor.private_responsive,
        lifecycles_after_edge: ok,
        failed_calls,
        reexec: None,
        unbounded_caller_blocked_s: None,
        runtimes: Default::default(),
        details: Details::default(),
    })
}
