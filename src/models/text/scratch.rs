//! Per-thread buffers of the text model: tokens, hashes, feature ids and scores, reused by
//! every prediction on a thread.

use super::tokenize::Tokens;
use std::cell::RefCell;

/// Per-thread buffers, so that prediction allocates nothing per call once warm.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) tokens: Tokens,
    pub(super) hashes: Vec<u64>,
    pub(super) ids: Vec<u32>,
    pub(super) features: Vec<u32>,
    pub(super) values: Vec<f32>,
    pub(super) scores: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Runs `f` with this thread's buffers (fresh ones when they are already in use, as in a
/// nested call).
pub(super) fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}
