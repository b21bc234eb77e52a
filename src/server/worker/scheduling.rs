//! How a player's thread is scheduled.
//!
//! A publisher's push rings the doorbell of every sleeping player, one after another. Under
//! Linux's default policy each player woken preempts the publisher on the spot (it has
//! slept, so it is owed time), so the publisher's thread is switched out and back in once
//! per player and its push (under the stream's lock) is strung out between them.
//! `SCHED_BATCH` threads do not preempt on wake-up: the publisher rings them all, then they
//! run in turn. They get the same share of the CPU over time (same nice value); only their
//! wake-up does not jump the queue. No privilege is needed to choose it.

/// Puts the calling thread under `SCHED_BATCH` (Linux; elsewhere nothing).
#[cfg(target_os = "linux")]
pub(super) fn batch_this_thread() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Puts the calling thread under `SCHED_BATCH` (Linux; elsewhere nothing).
#[cfg(not(target_os = "linux"))]
pub(super) fn batch_this_thread() -> std::io::Result<()> {
    Ok(())
}
