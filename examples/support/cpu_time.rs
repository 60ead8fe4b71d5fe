//! The CPU time of the calling thread, shared by the `*_profile` examples.
#![allow(dead_code)]

/// Nanoseconds this thread has run on a CPU (`CLOCK_THREAD_CPUTIME_ID`): unlike wall time, it
/// does not count the waits of a loaded machine. `None` off Linux.
#[cfg(target_os = "linux")]
pub fn cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.sec as u64 * 1_000_000_000 + ts.nsec as u64)
}

/// Nanoseconds this thread has run on a CPU: `None` off Linux.
#[cfg(not(target_os = "linux"))]
pub fn cpu_ns() -> Option<u64> {
    None
}
