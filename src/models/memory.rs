//! The memory budget of a training, and allocations that fail with an error instead of
//! aborting.
//!
//! A failed allocation aborts the process (Rust's allocation-failure handler), and sqlml runs
//! inside other people's processes: the `sqlite3` shell, a web server, a phone app. Two rules
//! keep a size from input away from that abort:
//!
//! * A size that an option or an argument controls (layer widths, factors, categories, a
//!   `k`) is checked against a [`Budget`] before any memory is taken. The error names the
//!   option and the memory it would need, e.g. `option 'hidden_layers' would need 80.0 GiB for
//!   the network's weights and optimizer state, above the memory budget of 4.0 GiB (raise it
//!   with the option 'max_memory_mb' or the environment variable SQLML_MAX_MEMORY_MB)`.
//! * A size that comes from the data alone (rows × inputs, held-out rows × classes) is
//!   allocated fallibly with [`zeroed`] or [`with_capacity`]: it may exceed the budget when the
//!   machine has the memory, and a refused allocation is an error, not an abort.
//!
//! The budget is 4096 MiB unless the environment variable [`ENV_VAR`] sets another default
//! for the process; a training raises or lowers it with the common option [`OPTION`].

use crate::{Error, Result};

/// The default budget, in MiB.
pub const DEFAULT_MB: u64 = 4096;
/// The environment variable that sets the process-wide default budget, in MiB.
pub const ENV_VAR: &str = "SQLML_MAX_MEMORY_MB";
/// The common training option that sets the budget of one training, in MiB.
pub const OPTION: &str = "max_memory_mb";

const MIB: f64 = 1024.0 * 1024.0;

/// How much memory sizes chosen by options and arguments may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    mb: u64,
    /// Whether the option [`OPTION`] applies (a training) or only [`ENV_VAR`] (prediction).
    training: bool,
}

impl Default for Budget {
    /// [`DEFAULT_MB`] for a training.
    fn default() -> Self {
        Budget { mb: DEFAULT_MB, training: true }
    }
}

impl Budget {
    /// A training's budget of `mb` MiB (at least 1).
    pub fn training_mb(mb: u64) -> Budget {
        Budget { mb: mb.max(1), training: true }
    }

    /// The process-wide default: [`ENV_VAR`] when set, else [`DEFAULT_MB`]. An unreadable value
    /// is an error naming the variable.
    pub fn default_mb() -> Result<u64> {
        match std::env::var(ENV_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MB),
            Err(std::env::VarError::NotUnicode(_)) => Err(env_error("non-UTF-8 text")),
            Ok(v) if v.trim().is_empty() => Ok(DEFAULT_MB),
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(mb) if mb >= 1 => Ok(mb),
                _ => Err(env_error(&format!("'{}'", crate::error::clip(&v)))),
            },
        }
    }

    /// The budget of prediction-time functions (a `k` argument): the process-wide default.
    pub fn for_queries() -> Result<Budget> {
        Ok(Budget { mb: Self::default_mb()?, training: false })
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> f64 {
        self.mb as f64 * MIB
    }

    /// The budget in MiB.
    pub fn mb(&self) -> u64 {
        self.mb
    }

    fn refuse(&self, bytes: f64, what: &str) -> Option<String> {
        if bytes <= self.bytes() {
            return None;
        }
        let how = if self.training {
            format!("the option '{OPTION}' or the environment variable {ENV_VAR}")
        } else {
            format!("the environment variable {ENV_VAR}")
        };
        Some(format!(
            "would need {} for {what}, above the memory budget of {} (raise it with {how})",
            show_bytes(bytes),
            show_bytes(self.bytes())
        ))
    }

    /// Errors when `bytes` (what option `key` makes `what` take) exceed the budget:
    /// `option 'key' would need 8.0 GiB for what, above the memory budget of 4.0 GiB (...)`.
    pub fn check(&self, key: &str, what: &str, bytes: f64) -> Result<()> {
        match self.refuse(bytes, what) {
            None => Ok(()),
            Some(m) => Err(Error::option(key, m)),
        }
    }

    /// As [`Budget::check`] for a function argument: `argument 'k' would need ...`.
    pub fn check_argument(&self, argument: &str, what: &str, bytes: f64) -> Result<()> {
        match self.refuse(bytes, what) {
            None => Ok(()),
            Some(m) => Err(Error::argument(format!("argument '{argument}' {m}"))),
        }
    }

    /// As [`Budget::check`] for a size the data decides: `{subject} would need ...`.
    pub fn check_data(&self, subject: &str, what: &str, bytes: f64) -> Result<()> {
        match self.refuse(bytes, what) {
            None => Ok(()),
            Some(m) => Err(Error::data(format!("{subject} {m}"))),
        }
    }
}

fn env_error(got: &str) -> Error {
    Error::argument(format!(
        "environment variable {ENV_VAR} must be a positive integer (megabytes), got {got} (unset it for the default of {DEFAULT_MB})"
    ))
}

/// `bytes` for people: `512 bytes`, `12.0 KiB`, `3.5 MiB`, `32.0 GiB`, `2.0 TiB`.
pub fn show_bytes(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024.0 {
        return format!("{} bytes", bytes.max(0.0).round());
    }
    let mut value = bytes / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Element types whose all-zero bytes are a valid value (zero), for [`zeroed`].
pub trait Zeroable: Copy + private::Sealed {}

mod private {
    pub trait Sealed {}
}

macro_rules! zeroable {
    ($($t:ty),*) => {
        $(impl private::Sealed for $t {} impl Zeroable for $t {})*
    };
}
zeroable!(bool, u8, u16, u32, u64, usize, i32, i64, f32, f64);

/// The error of a refused allocation of `bytes` for `what`.
pub fn refused(bytes: f64, what: &str) -> Error {
    Error::data(format!(
        "cannot allocate {} for {what}: the system refused the memory (use fewer rows or columns, or a machine with more memory)",
        show_bytes(bytes)
    ))
}

/// `vec![0; n]`, or an error naming `what` when the memory is refused. Like `vec![0; n]` it
/// asks the allocator for zeroed memory, so untouched pages cost nothing.
pub fn zeroed<T: Zeroable>(n: usize, what: &str) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    let bytes = n as f64 * size as f64;
    if n == 0 || size == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(n).map_err(|_| refused(bytes, what))?;
    // SAFETY: `layout` has a non-zero size (n > 0 and T is not zero-sized).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(refused(bytes, what));
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `n` values of `T`
    // (length and capacity `n`), and all-zero bytes are a valid `T` (`Zeroable`).
    Ok(unsafe { Vec::from_raw_parts(ptr, n, n) })
}

/// `Vec::with_capacity(n)`, or an error naming `what` when the memory is refused.
pub fn with_capacity<T>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| refused(n as f64 * std::mem::size_of::<T>() as f64, what))?;
    Ok(v)
}

/// `n` copies of `value` for a table read at random: [`huge_pages`] is asked for before the
/// table is written. The memory is taken as [`with_capacity`] takes it (`what` names it).
pub fn try_table<T: Clone>(n: usize, value: T, what: &str) -> Result<Vec<T>> {
    let mut v = with_capacity(n, what)?;
    huge_pages(&v);
    v.resize(n, value);
    Ok(v)
}

/// [`try_table`] of a size that does not come from input (an allocation failure aborts, as
/// `vec!` does).
pub fn table<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    huge_pages(&v);
    v.resize(n, value);
    v
}

/// [`copy`] of a table read at random, backed by huge pages ([`huge_pages`]).
pub fn copy_huge<T: Copy>(v: &[T], what: &str) -> Result<Vec<T>> {
    let mut out = with_capacity(v.len(), what)?;
    huge_pages(&out);
    out.extend_from_slice(v);
    Ok(out)
}

/// A copy of `v` of exactly its length, or an error naming `what` when the memory is refused.
pub fn copy<T: Copy>(v: &[T], what: &str) -> Result<Vec<T>> {
    let mut out = with_capacity(v.len(), what)?;
    out.extend_from_slice(v);
    Ok(out)
}

/// Makes room for `additional` more values in `v` (amortised growth), or an error naming
/// `what` when the memory is refused.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<()> {
    v.try_reserve(additional)
        .map_err(|_| refused((v.len() as f64 + additional as f64) * std::mem::size_of::<T>() as f64, what))
}

/// [`reserve`] for a table read at random that grows as it is filled (a training's term records,
/// class rows): when the room moves or grows, it is asked to be backed by huge pages
/// ([`huge_pages`]; filled in order, at most the huge page being filled is resident ahead of it).
pub fn reserve_huge<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<()> {
    let (at, capacity) = (v.as_ptr(), v.capacity());
    reserve(v, additional, what)?;
    if v.as_ptr() != at || v.capacity() != capacity {
        huge_pages(v);
    }
    Ok(())
}

/// Room, exactly, for `scale` times `v`'s values and an eighth more, when that is more than it
/// has: a hint where a long run is expected to go on growing at the rate seen so far (memory
/// refused now is left to the reservations that must succeed; untouched room costs address
/// space, not resident memory).
pub fn reserve_scaled<T>(v: &mut Vec<T>, scale: f64) {
    let want = (v.len() as f64 * scale * 1.125) as usize;
    let _ = v.try_reserve_exact(want.saturating_sub(v.len()));
}

/// [`reserve_scaled`] of a table read at random, its room asked to be backed by huge pages
/// ([`huge_pages`]).
pub fn reserve_scaled_huge<T>(v: &mut Vec<T>, scale: f64) {
    reserve_scaled(v, scale);
    huge_pages(v);
}

/// Asks the kernel to back `v`'s room with huge pages, where transparent huge pages are left to
/// each program (`madvise` mode, the common default). A large table read at random (a training's
/// counting tables, a model's lookup tables) then takes one TLB entry per 2 MiB instead of 512,
/// and a TLB miss (costly under a hypervisor's nested paging) becomes rare. Call it before the
/// room is first written, on a table that is then written whole: the kernel may make a whole
/// huge page resident as soon as one byte of it is touched, so room left unused would count.
///
/// A memory map that glibc's `malloc` made for `v` alone (`own_map`, from 32 MiB) is advised
/// whole: advising only the huge pages inside it split it in three, and `realloc` cannot grow a
/// map of several parts in place (`mremap`), so it copied the table to a new map instead, the
/// old and new both resident while it did (the star ratings' 1-3-gram training, its records
/// grown past 32 MiB: a peak of 307 MB became 383). A smaller table, inside the allocator's heap,
/// gets the whole huge pages inside it, and the advice outlives it: what the heap holds there
/// next is backed by huge pages too (not seen at the peaks measured). A hint: nothing is moved
/// or read, and a refusal is ignored. Below 4 MiB, or off Linux (or under Miri, which cannot
/// make the call), nothing is done.
pub fn huge_pages<T>(v: &Vec<T>) {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let (at, bytes) = (v.as_ptr() as usize, v.capacity().saturating_mul(size_of::<T>()));
        let whole = if cfg!(target_env = "gnu") { own_map(at, bytes) } else { None };
        if let Some((start, len)) = whole.or_else(|| huge_range(at, bytes)) {
            // SAFETY: `start..start + len` is the memory map of `v`'s allocation (`own_map`:
            // with another allocator, a guess at most a header and a page wider) or lies inside
            // the allocation (`huge_range`), which stays allocated for the call; MADV_HUGEPAGE
            // changes how pages are backed, never their contents, in any range, and an error
            // leaves the memory as it was.
            unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(any(not(target_os = "linux"), miri))]
    let _ = v;
}

#[cfg(test)]
thread_local! {
    /// Bytes [`give_back_pages`] gave back on this thread (tests).
    pub(crate) static GIVEN_BACK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Gives the whole pages inside `bytes` back to the system, where it can (Linux), so that the
/// process holds less while the allocation stays: for memory read once and not again before
/// it is freed (a training's texts, as they are counted). Their bytes are unspecified
/// afterwards (zero on Linux's private memory, the only kind an allocator hands out there);
/// the partial pages at either end keep theirs. Returns how many bytes from the start of
/// `bytes` lie before the end of the last page given back (0 when none was), so that a caller
/// giving back what it has read, a piece at a time, starts its next piece there and loses no
/// page between two pieces. Off Linux, or under Miri, nothing is given back (0).
///
/// Freeing the memory would give back only what the allocator chooses to: glibc keeps in its
/// heap what is freed below its adaptive mmap threshold (up to 32 MiB, see [`huge_pages`]), and a
/// memory map's pages go back only when the whole map is freed.
pub fn give_back_pages(bytes: &mut [u8]) -> usize {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let (start, len) = (bytes.as_mut_ptr() as usize, bytes.len());
        let page = layout::page_size();
        let (Some(first), Some(end)) =
            (start.checked_next_multiple_of(page), start.checked_add(len).map(|e| e / page * page))
        else {
            return 0;
        };
        if end <= first {
            return 0;
        }
        // SAFETY: `first..end` lies inside `bytes`, which this call borrows exclusively (no
        // other reference reads it meanwhile), and its allocation outlives the call.
        // MADV_DONTNEED on private anonymous memory makes its pages read as zeros, valid `u8`s;
        // on an error (locked pages, say) the memory stays as it was.
        unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_DONTNEED) };
        #[cfg(test)]
        GIVEN_BACK.with(|n| n.set(n.get() + (end - first)));
        end - start
    }
    #[cfg(any(not(target_os = "linux"), miri))]
    {
        let _ = bytes;
        0
    }
}

/// Where glibc and the kernel put memory, for [`huge_pages`] on Linux (and the tests, everywhere):
/// elsewhere, or under Miri, `huge_pages` does nothing and this module is not built.
#[cfg(any(test, all(target_os = "linux", not(miri))))]
mod layout {
    /// Bytes from which [`huge_pages`](super::huge_pages) asks for them.
    pub(super) const HUGE_FROM: usize = 4 << 20;

    /// Bytes from which an allocation is a memory map of its own in glibc's `malloc`, whatever its
    /// threshold (which moves up to the size of the largest map freed, and cannot be set above
    /// this: `DEFAULT_MMAP_THRESHOLD_MAX` on 64-bit), unless maps are turned off (`M_MMAP_MAX` 0).
    pub(super) const OWN_MAP_FROM: usize = 32 << 20;

    /// glibc's header before an allocation's bytes (two `size_t`).
    pub(super) const CHUNK_HEADER: usize = 16;

    /// The size of a huge page on x86-64 and arm64 (4 KiB base pages).
    pub(super) const HUGE: usize = 2 << 20;

    /// The memory map glibc's `malloc` made for an allocation of `bytes` bytes at `at` alone, as
    /// (start, length): an allocation of [`OWN_MAP_FROM`] bytes or more is always one, its header
    /// at the start of a page, [`CHUNK_HEADER`] bytes before the values, and its length the request
    /// and the header rounded as glibc rounds them (to 16 bytes, then to pages). None when smaller,
    /// or when the bytes do not sit where glibc puts them (another allocator's large allocations
    /// start on a page). Where the host turned glibc's maps off (`M_MMAP_MAX` 0), a large table lies
    /// in the heap, and one whose header happens to start a page is taken for a map: the advice then
    /// covers it and at most a page past it, and outlives it as [`huge_pages`](super::huge_pages) says of the heap's.
    pub(super) fn own_map(at: usize, bytes: usize) -> Option<(usize, usize)> {
        if bytes < OWN_MAP_FROM {
            return None;
        }
        let page = page_size();
        let start = at.checked_sub(CHUNK_HEADER)?;
        if start % page != 0 {
            return None;
        }
        // glibc's `request2size`, then the map's size in `sysmalloc_mmap` and `mremap_chunk`.
        let chunk = bytes.checked_add(8 + 15)? & !15;
        let len = chunk.checked_add(8)?.checked_next_multiple_of(page)?;
        start.checked_add(len)?;
        Some((start, len))
    }

    /// The size of a page (4 KiB where the system does not say).
    pub(super) fn page_size() -> usize {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            // SAFETY: sysconf reads a system value and has no preconditions.
            let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if n > 0 {
                return n as usize;
            }
        }
        4096
    }

    /// The whole huge pages inside `bytes` bytes from address `start` (from its first huge-page
    /// boundary to its last), as (start, length), when there are `HUGE_FROM` bytes or more and at
    /// least one such page.
    pub(super) fn huge_range(start: usize, bytes: usize) -> Option<(usize, usize)> {
        if bytes < HUGE_FROM {
            return None;
        }
        let (first, end) = (start.checked_next_multiple_of(HUGE)?, start.checked_add(bytes)? / HUGE * HUGE);
        (end > first).then_some((first, end - first))
    }
}

#[cfg(all(target_os = "linux", not(miri)))]
use layout::{huge_range, own_map};

#[cfg(test)]
mod tests {
    use super::layout::*;
    use super::*;

    /// Only whole huge pages inside the allocation are advised, and only for large ones.
    #[test]
    fn huge_pages_stay_inside_the_allocation() {
        // Small: nothing.
        assert_eq!(huge_range(0, HUGE_FROM - 1), None);
        // Aligned: all of it.
        assert_eq!(huge_range(HUGE, 2 * HUGE), Some((HUGE, 2 * HUGE)));
        // Unaligned at both ends: the whole pages between.
        assert_eq!(huge_range(HUGE + 16, 3 * HUGE), Some((2 * HUGE, 2 * HUGE)));
        // Large enough, but no whole page inside.
        assert_eq!(huge_range(HUGE + 16, HUGE_FROM).map(|(_, len)| len), Some(HUGE));
        assert_eq!(huge_range(HUGE - 8, HUGE_FROM + 16), Some((HUGE, HUGE_FROM)));
        // Near the top of the address space: no overflow.
        assert_eq!(huge_range(usize::MAX - HUGE_FROM + 10, HUGE_FROM), None);
        assert_eq!(huge_range(usize::MAX - 10, HUGE_FROM), None);
        // Real tables: advised, then written whole, and read as `vec!` makes them.
        assert_eq!(try_table(HUGE_FROM, 7u64, "the test table").unwrap(), vec![7u64; HUGE_FROM]);
        assert_eq!(table(HUGE_FROM + 3, (1u32, 2u32)), vec![(1, 2); HUGE_FROM + 3]);
        assert_eq!(table(0, 5u8), Vec::<u8>::new());
        huge_pages(&Vec::<u8>::new());
        // A size the system refuses is an error naming the table, not an abort.
        let e = try_table(usize::MAX / 16, 0u64, "the test table").unwrap_err().to_string();
        assert!(e.contains("the test table"), "{e}");
    }

    /// Only the whole pages inside are given back (they read as zeros after), each piece of a
    /// buffer given back in turn loses no page, and a piece without a whole page gives none.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn whole_pages_are_given_back() {
        let page = page_size();
        let mut v = vec![7u8; 64 * page];
        let off = page - (v.as_ptr() as usize) % page;
        // From 100 bytes before a page to 10 pages on, less 100 bytes: nine whole pages.
        let (a, b) = (off + page - 100, off + 11 * page - 100);
        let done = give_back_pages(&mut v[a..b]);
        assert_eq!(done, 9 * page + 100);
        assert!(v[..a + 100].iter().all(|&x| x == 7), "before the first whole page");
        assert!(v[a + 100..a + done].iter().all(|&x| x == 0), "the whole pages");
        assert!(v[a + done..].iter().all(|&x| x == 7), "after the last whole page");
        // The next piece starts where the pages given back end: no page lost between.
        let next = a + done;
        let done2 = give_back_pages(&mut v[next..next + 2 * page]);
        assert_eq!(done2, 2 * page);
        assert!(v[next..next + 2 * page].iter().all(|&x| x == 0));
        assert_eq!(give_back_pages(&mut v[off + 1..off + page + 1]), 0, "no whole page inside");
        assert_eq!(give_back_pages(&mut []), 0);
    }

    /// A map glibc made for an allocation alone is found from where its bytes sit and how many
    /// they are, as glibc rounds them.
    #[test]
    fn own_maps_as_glibc_makes_them() {
        let page = page_size();
        // Smaller (inside the allocator's heap), or not where glibc puts a map's bytes: none.
        assert_eq!(own_map(page + CHUNK_HEADER, OWN_MAP_FROM - 1), None);
        assert_eq!(own_map(page + 64, OWN_MAP_FROM), None);
        assert_eq!(own_map(8, OWN_MAP_FROM), None);
        // The header's page to the end of the rounded request (the chunk takes the request and
        // 8 bytes, in 16s, and its map that and 8 more, in pages).
        assert_eq!(own_map(page + CHUNK_HEADER, OWN_MAP_FROM), Some((page, OWN_MAP_FROM + page)));
        assert_eq!(own_map(page + CHUNK_HEADER, OWN_MAP_FROM + page - 24), Some((page, OWN_MAP_FROM + page)));
        assert_eq!(
            own_map(page + CHUNK_HEADER, OWN_MAP_FROM + page - 23),
            Some((page, OWN_MAP_FROM + 2 * page))
        );
        // Near the top of the address space: no overflow.
        assert_eq!(own_map(usize::MAX - page + 1 + CHUNK_HEADER, OWN_MAP_FROM), None);
        assert_eq!(own_map(page + CHUNK_HEADER, usize::MAX - 8), None);
    }

    /// A table in a map of its own is advised whole, so that the map stays one and grows in
    /// place (`mremap`): advising the huge pages inside it split it in three, and glibc then
    /// copied it to grow it (old and new room resident at once).
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    #[test]
    fn a_map_of_its_own_is_advised_whole_and_grows_as_one() {
        if std::fs::metadata("/sys/kernel/mm/transparent_hugepage/enabled").is_err() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        // The mapping of /proc/self/smaps that holds `at`: its start, its end and whether it is
        // advised.
        let mapping = |at: usize| -> Option<(usize, usize, bool)> {
            let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
            let mut holds = None;
            for line in smaps.lines() {
                let range = line.split_once(' ').and_then(|(r, _)| r.split_once('-'));
                if let Some((a, b)) = range
                    && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    // A mapping's first line.
                    holds = (a <= at && at < b).then_some((a, b));
                } else if let (Some((a, b)), Some(flags)) = (holds, line.strip_prefix("VmFlags:")) {
                    return Some((a, b, flags.split_whitespace().any(|f| f == "hg")));
                }
            }
            None
        };
        // glibc's rounding, at the edges of a page: the mapping found is the map computed.
        let page = page_size();
        for extra in [0, 1, page - 24, page - 23] {
            let v: Vec<u8> = with_capacity(OWN_MAP_FROM + extra, "the test table").unwrap();
            huge_pages(&v);
            let (start, len) = own_map(v.as_ptr() as usize, v.capacity()).expect("a map of its own");
            assert_eq!(mapping(v.as_ptr() as usize), Some((start, start + len, true)), "{extra}");
        }
        // Grown past 32 MiB as the counting's records grow: one advised mapping, then grown by
        // `realloc` with its values, still one, of the new size.
        let mut own: Vec<u64> = Vec::new();
        for i in 0..(OWN_MAP_FROM / 8) as u64 {
            reserve_huge(&mut own, 1, "the test rows").unwrap();
            own.push(i);
        }
        let (start, len) = own_map(own.as_ptr() as usize, own.capacity() * 8).expect("a map of its own");
        assert_eq!(mapping(own.as_ptr() as usize), Some((start, start + len, true)));
        let more = own.capacity();
        reserve_huge(&mut own, more, "the test rows").unwrap();
        let (start, len) = own_map(own.as_ptr() as usize, own.capacity() * 8).expect("a map of its own");
        assert_eq!(mapping(own.as_ptr() as usize), Some((start, start + len, true)));
        assert!(own.iter().enumerate().all(|(i, &x)| x == i as u64));
    }

    /// Growing and copying tables read at random: the same values as `reserve` and `copy`,
    /// the room advised as it moves, and a size the system refuses an error, not an abort.
    #[test]
    fn huge_tables_grow_and_copy_like_vectors() {
        let mut v: Vec<u32> = Vec::new();
        for i in 0..(HUGE_FROM as u32) {
            reserve_huge(&mut v, 1, "the test rows").unwrap();
            v.push(i);
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
        let copied = copy_huge(&v, "the test rows").unwrap();
        assert_eq!(copied, v);
        assert_eq!(copied.capacity(), v.len());
        assert_eq!(copy_huge::<u64>(&[], "the test rows").unwrap(), Vec::<u64>::new());
        let e = reserve_huge(&mut v, usize::MAX / 8, "the test rows").unwrap_err().to_string();
        assert!(e.contains("the test rows") && e.contains("cannot allocate"), "{e}");
        assert_eq!(v.len(), HUGE_FROM, "a refused reservation leaves the values");
        // Scaled room: the values kept, room for the scale and an eighth more; none for a scale
        // that asks for less (or is not a number).
        let mut w: Vec<u32> = (0..1000).collect();
        reserve_scaled_huge(&mut w, 3.0);
        assert!(w.capacity() >= 3375 && w == (0..1000).collect::<Vec<_>>(), "{}", w.capacity());
        let mut x: Vec<u32> = Vec::with_capacity(1000);
        x.extend(0..1000);
        for scale in [0.5, f64::NAN, -2.0] {
            reserve_scaled(&mut x, scale);
            assert_eq!(x.capacity(), 1000, "{scale}");
        }
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(show_bytes(512.0), "512 bytes");
        assert_eq!(show_bytes(1536.0), "1.5 KiB");
        assert_eq!(show_bytes(4096.0 * MIB), "4.0 GiB");
        assert_eq!(show_bytes(32.0 * 1024.0 * MIB), "32.0 GiB");
        assert_eq!(show_bytes(3.0 * 1024.0 * 1024.0 * MIB), "3.0 TiB");
    }

    #[test]
    fn checks_name_the_option_and_the_budget() {
        let b = Budget::training_mb(4096);
        assert!(b.check("hidden_layers", "the weights", 4096.0 * MIB).is_ok());
        assert_eq!(
            b.check("hidden_layers", "the weights", 32.0 * 1024.0 * MIB).unwrap_err().to_string(),
            "option 'hidden_layers' would need 32.0 GiB for the weights, above the memory budget of 4.0 GiB \
             (raise it with the option 'max_memory_mb' or the environment variable SQLML_MAX_MEMORY_MB)"
        );
        let q = Budget { mb: 1, training: false };
        assert_eq!(
            q.check_argument("k", "3000000 rows", 2.0 * MIB).unwrap_err().to_string(),
            "argument 'k' would need 2.0 MiB for 3000000 rows, above the memory budget of 1.0 MiB \
             (raise it with the environment variable SQLML_MAX_MEMORY_MB)"
        );
        assert_eq!(
            q.check_data("target column 'y' with 9000 classes", "the matrix", 1e12).unwrap_err().to_string(),
            "target column 'y' with 9000 classes would need 931.3 GiB for the matrix, above the memory budget \
             of 1.0 MiB (raise it with the environment variable SQLML_MAX_MEMORY_MB)"
        );
        assert_eq!(Budget::training_mb(0).mb(), 1);
    }

    #[test]
    fn fallible_allocations() {
        let v: Vec<f32> = zeroed(1000, "x").unwrap();
        assert_eq!((v.len(), v.iter().all(|&x| x == 0.0)), (1000, true));
        assert!(zeroed::<u64>(0, "x").unwrap().is_empty());
        // More than any address space: refused, not aborted.
        let e = zeroed::<f64>(usize::MAX / 4, "the test matrix").unwrap_err().to_string();
        assert!(e.starts_with("cannot allocate ") && e.contains(" TiB for the test matrix: "), "{e}");
        assert!(with_capacity::<u64>(usize::MAX / 2, "rows").is_err());
        let mut v = vec![1u8];
        assert!(reserve(&mut v, usize::MAX - 8, "bytes").is_err());
        reserve(&mut v, 10, "bytes").unwrap();
        assert!(v.capacity() >= 11);
    }
}
