//! The sqlml loadable extension (`libsqlml0.so` / `sqlml0.dll` / `libsqlml0.dylib`).
//!
//! Entry points only: each checks the host's SQLite version, then calls `sqlml::register`.
//! SQLite finds `sqlite3_sqlml_init` from the file name, and `sqlite3_extension_init` as the
//! generic fallback, so `.load path/to/libsqlml0` needs no entry-point argument.

use rusqlite::{Connection, ffi};
use std::os::raw::{c_char, c_int};

fn init(db: Connection) -> rusqlite::Result<bool> {
    sqlml::register(&db)?;
    // Stay loaded when the connection closes: a process-wide dictionary (jieba) and thread
    // locals must not be unmapped under a live process.
    Ok(true)
}

/// Writes `msg` into `*err` with the host's allocator; returns SQLITE_ERROR.
unsafe fn refuse(err: *mut *mut c_char, api: &ffi::sqlite3_api_routines, msg: &str) -> c_int {
    if let (false, Some(alloc)) = (err.is_null(), api.malloc) {
        let bytes = msg.as_bytes();
        // SAFETY: `alloc` is the host's sqlite3_malloc; we copy `bytes` plus a NUL into it.
        unsafe {
            let p = alloc(bytes.len() as c_int + 1) as *mut u8;
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
                *p.add(bytes.len()) = 0;
                *err = p.cast();
            }
        }
    }
    ffi::SQLITE_ERROR
}

/// Refuses hosts older than the SQLite this build's bindings need, with a clear message
/// instead of the process abort rusqlite would otherwise cause.
unsafe fn check_host(err: *mut *mut c_char, api: *mut ffi::sqlite3_api_routines) -> Option<c_int> {
    // SAFETY: SQLite passes a valid routine table (or NULL, handled here).
    let Some(api) = (unsafe { api.as_ref() }) else { return Some(ffi::SQLITE_ERROR) };
    let Some(version) = api.libversion_number else {
        return Some(unsafe { refuse(err, api, "sqlml: this SQLite host does not expose its version") });
    };
    // SAFETY: a function pointer from the host's routine table.
    let host = unsafe { version() };
    if host < ffi::SQLITE_VERSION_NUMBER {
        let msg = format!(
            "sqlml needs SQLite >= {} but the host is {} (upgrade SQLite, or use the sqlml Rust library with bundled SQLite)",
            dotted(ffi::SQLITE_VERSION_NUMBER),
            dotted(host)
        );
        return Some(unsafe { refuse(err, api, &msg) });
    }
    None
}

fn dotted(v: c_int) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000)
}

unsafe fn entry(db: *mut ffi::sqlite3, err: *mut *mut c_char, api: *mut ffi::sqlite3_api_routines) -> c_int {
    if let Some(rc) = unsafe { check_host(err, api) } {
        return rc;
    }
    let run = std::panic::catch_unwind(|| unsafe { Connection::extension_init2(db, err, api, init) });
    run.unwrap_or(ffi::SQLITE_ERROR)
}

/// Entry point SQLite derives from the file name `libsqlml0`.
///
/// # Safety
/// Called by SQLite with its own valid pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_sqlml_init(
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    unsafe { entry(db, err, api) }
}

/// Generic entry point, tried first by SQLite.
///
/// # Safety
/// Called by SQLite with its own valid pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_extension_init(
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    unsafe { entry(db, err, api) }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn old_host() -> c_int {
        3_030_001
    }
    unsafe extern "C" fn new_host() -> c_int {
        ffi::SQLITE_VERSION_NUMBER
    }
    unsafe extern "C" fn host_malloc(n: c_int) -> *mut std::os::raw::c_void {
        // The test frees nothing: a few bytes leak per run.
        Box::leak(vec![0u8; n as usize].into_boxed_slice()).as_mut_ptr().cast()
    }

    fn api(version: unsafe extern "C" fn() -> c_int) -> ffi::sqlite3_api_routines {
        // SAFETY: every field is an Option of a function pointer; all-zero is all None.
        let mut api: ffi::sqlite3_api_routines = unsafe { std::mem::zeroed() };
        api.libversion_number = Some(version);
        api.malloc = Some(host_malloc);
        api
    }

    #[test]
    fn old_host_gets_a_message_not_an_abort() {
        let mut api = api(old_host);
        let mut err: *mut c_char = std::ptr::null_mut();
        let rc = unsafe { check_host(&mut err, &mut api) };
        assert_eq!(rc, Some(ffi::SQLITE_ERROR));
        let msg = unsafe { std::ffi::CStr::from_ptr(err) }.to_str().unwrap();
        assert!(msg.starts_with("sqlml needs SQLite >= 3."), "{msg}");
        assert!(msg.contains("but the host is 3.30.1"), "{msg}");
    }

    #[test]
    fn current_host_passes() {
        let mut api = api(new_host);
        let mut err: *mut c_char = std::ptr::null_mut();
        assert_eq!(unsafe { check_host(&mut err, &mut api) }, None);
        assert!(err.is_null());
    }
}
