//! The training texts of a fit copied class by class into chunks, each given back once every
//! text in it is counted.
//!
//! Counting by class visits the texts class by class ([`pipeline::count_terms`]), the two
//! threads from both ends, so the texts as read (in row order, one buffer) could go back only
//! once all were counted: at a million generated texts they were 156 MB of a peak of 436, held
//! to its end, where both threads' counts are largest. Copied in the order they are counted, in
//! chunks of [`CHUNK`] to twice that bytes, each chunk goes back as soon as both threads are past
//! it. A chunk that large is a memory map of its own under glibc's malloc (above 32 MiB,
//! whatever its adaptive threshold), so what goes back leaves the process. It is also larger
//! than the sizes that threshold adapts to: freeing a memory map of up to 32 MiB raises it to
//! that size, so that the process's later allocations up to that size come from its heap and
//! stay held when freed (with chunks of 32 MiB, 8 to 32 MB more were held once counting ended).
//!
//! The two threads read the chunks at once: each holds the chunk it reads (an [`Arc`] taken
//! from under the chunk's lock when it moves to it, [`Reader`]), and the chunk's last text
//! counted takes it out of the store ([`ClassTexts::counted`]); it goes back when the thread
//! reading it moves on.
//!
//! [`pipeline::count_terms`]: super::pipeline::count_terms

use crate::models::columns::Texts;
use crate::models::memory;
use crate::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes of text a chunk holds at least (unless all the texts take less), and less than twice
/// that.
pub(super) const CHUNK: usize = 40 << 20;

#[cfg(any(test, feature = "fuzzing"))]
thread_local! {
    /// [`chunk_bytes`] on this thread (tests and fuzzing: chunks of a few texts, see
    /// [`first_pass_at_every_size`](super::first_pass_at_every_size)).
    pub(super) static CHUNK_FOR_TESTS: std::cell::Cell<usize> = const { std::cell::Cell::new(CHUNK) };
}

/// Bytes of text a chunk holds at least: [`CHUNK`] (tests and fuzzing may set less on their
/// thread).
pub(super) fn chunk_bytes() -> usize {
    #[cfg(any(test, feature = "fuzzing"))]
    return CHUNK_FOR_TESTS.with(std::cell::Cell::get);
    #[cfg(not(any(test, feature = "fuzzing")))]
    CHUNK
}

/// What the allocations are called in memory errors.
const WHAT: &str = "the training texts in the order they are counted";

/// Texts in the order they are counted, in chunks given back as they are counted.
pub(super) struct ClassTexts {
    /// The chunks; None once given back.
    chunks: Vec<Mutex<Option<Arc<String>>>>,
    /// The texts of each chunk not yet counted.
    pending: Vec<AtomicUsize>,
    /// Each text's chunk (the high 32 bits) and its end in it (the low 32 bits).
    at: Vec<u64>,
}

/// A thread's hold on the chunk it reads ([`ClassTexts::read`]).
#[derive(Default)]
pub(super) struct Reader {
    chunk: usize,
    held: Option<Arc<String>>,
}

impl ClassTexts {
    /// The texts of `rows` of `texts` in the order `order` (positions in `rows`) says, NULL as
    /// empty, copied into chunks of `chunk` to twice that bytes, as many as make about the same
    /// size (fewer if a text is longer; one if all take less; room taken fallibly).
    pub(super) fn copy(texts: &Texts, rows: &[usize], order: &[usize], chunk: usize) -> Result<ClassTexts> {
        let text = |j: usize| -> Result<&str> {
            let row = order.get(j).and_then(|&i| rows.get(i)).copied();
            match row {
                Some(r) if r < texts.len() => Ok(texts.get(r).unwrap_or("")),
                _ => Err(Error::Internal(format!("text {j} of {} copied in class order", order.len()))),
            }
        };
        let mut total = 0usize;
        for j in 0..order.len() {
            total = total.saturating_add(text(j)?.len());
        }
        let count = (total / chunk.max(1)).max(1);
        let size = total.div_ceil(count);
        // Each text's place, and each chunk's size, so that each is taken at its size.
        let mut at: Vec<u64> = memory::with_capacity(order.len(), WHAT)?;
        let mut sizes: Vec<usize> = Vec::new();
        let mut filled = 0usize;
        for j in 0..order.len() {
            let n = text(j)?.len();
            // (The last chunk takes the rest.)
            // (Nor past 4 GiB, where a text's end would not fit its 32 bits.)
            let past = filled.saturating_add(n);
            let full = filled > 0 && (past > size && sizes.len() < count || past > u32::MAX as usize);
            if sizes.is_empty() || full {
                memory::reserve(&mut sizes, 1, WHAT)?;
                sizes.push(0);
                filled = 0;
            }
            filled += n;
            let c = sizes.len() - 1;
            sizes[c] = filled;
            let (c, end) = (u32::try_from(c), u32::try_from(filled));
            let (Ok(c), Ok(end)) = (c, end) else {
                return Err(Error::Internal(
                    "a text of 4 GiB or more, or 2^32 chunks, copied in class order".into(),
                ));
            };
            at.push(u64::from(c) << 32 | u64::from(end));
        }
        let mut chunks: Vec<Mutex<Option<Arc<String>>>> = memory::with_capacity(sizes.len(), WHAT)?;
        let mut pending: Vec<AtomicUsize> = memory::with_capacity(sizes.len(), WHAT)?;
        let mut j = 0;
        for (c, &size) in sizes.iter().enumerate() {
            let mut s = String::new();
            s.try_reserve_exact(size).map_err(|_| memory::refused(size as f64, WHAT))?;
            let first = j;
            while j < order.len() && (at[j] >> 32) as usize == c {
                s.push_str(text(j)?);
                j += 1;
            }
            chunks.push(Mutex::new(Some(Arc::new(s))));
            pending.push(AtomicUsize::new(j - first));
        }
        Ok(ClassTexts { chunks, pending, at })
    }

    /// Number of texts.
    pub(super) fn len(&self) -> usize {
        self.at.len()
    }

    /// The chunk of text `j` and where the text is in it.
    fn place(&self, j: usize) -> (usize, std::ops::Range<usize>) {
        let split = |a: u64| ((a >> 32) as usize, (a & u64::from(u32::MAX)) as usize);
        let (c, end) = split(self.at[j]);
        let start = match j.checked_sub(1).map(|p| split(self.at[p])) {
            Some((p, e)) if p == c => e,
            _ => 0,
        };
        (c, start..end)
    }

    /// The bytes of text `j` (below [`ClassTexts::len`]).
    pub(super) fn bytes_of(&self, j: usize) -> usize {
        self.place(j).1.len()
    }

    /// Text `j`, read through `reader` (which then holds its chunk); an error once its chunk is
    /// given back.
    pub(super) fn read<'r>(&self, j: usize, reader: &'r mut Reader) -> Result<&'r str> {
        let (c, range) = self.place(j);
        if reader.chunk != c || reader.held.is_none() {
            // (The chunk held before goes back now if it is no longer in the store.)
            reader.held = None;
            let chunk = self.chunks[c].lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
            reader.held = chunk;
            reader.chunk = c;
        }
        reader
            .held
            .as_deref()
            .and_then(|s| s.get(range))
            .ok_or_else(|| Error::Internal(format!("training text {j} read after it was given back")))
    }

    /// Text `j` is counted: its chunk is taken out of the store once all its texts are (it goes
    /// back when no [`Reader`] holds it either). Each text is counted once.
    pub(super) fn counted(&self, j: usize) {
        let c = self.place(j).0;
        let before = self.pending[c].fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "text {j} counted twice");
        if before == 1 {
            let chunk = self.chunks[c].lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
            drop(chunk);
        }
    }

    /// Chunks not yet given back (tests).
    #[cfg(test)]
    pub(super) fn chunks_held(&self) -> usize {
        self.chunks.iter().filter(|c| c.lock().unwrap().is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(values: &[Option<&str>]) -> Texts {
        values.iter().copied().collect()
    }

    /// The texts come in the order asked, NULL as empty, in chunks of about the same size, and
    /// a chunk goes once all its texts are counted.
    #[test]
    fn texts_are_read_in_order_and_given_back_by_chunk() {
        let values = [Some("alpha"), None, Some("bb"), Some("a much longer text"), Some("cc"), Some("d")];
        let t = texts(&values);
        let rows = [0, 1, 2, 3, 5];
        let order = [4, 2, 0, 1, 3];
        let store = ClassTexts::copy(&t, &rows, &order, 8).unwrap();
        let want = ["d", "bb", "alpha", "", "a much longer text"];
        assert_eq!(store.len(), 5);
        let mut reader = Reader::default();
        for (j, w) in want.iter().enumerate() {
            assert_eq!(store.read(j, &mut reader).unwrap(), *w);
            assert_eq!(store.bytes_of(j), w.len());
        }
        // 26 bytes in chunks of 8 or more: "dbbalpha" (NULL's empty text with them: 9 would
        // pass the chunks' size of 26 / 3), then the rest.
        assert_eq!(store.chunks_held(), 2);
        for j in [0, 1, 2] {
            store.counted(j);
        }
        assert_eq!(store.chunks_held(), 2, "the empty text of the first chunk is not counted yet");
        store.counted(3);
        assert_eq!(store.chunks_held(), 1);
        // The reader still holds the long text's chunk; the first is gone.
        let mut other = Reader::default();
        let err = store.read(0, &mut other).unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err}");
        store.counted(4);
        assert_eq!(store.chunks_held(), 0);
        assert_eq!(store.read(4, &mut reader).unwrap(), "a much longer text", "held by its reader");
        assert!(store.read(4, &mut other).is_err());
    }

    /// Chunks are of the size asked to twice that, the last taking the rest.
    #[test]
    fn chunks_are_of_about_the_same_size() {
        let values: Vec<Option<String>> = (0..100).map(|i| Some(format!("{:010}", i))).collect();
        let t: Texts = values.iter().cloned().collect();
        let rows: Vec<usize> = (0..100).collect();
        let sizes = |chunk: usize| {
            let store = ClassTexts::copy(&t, &rows, &rows, chunk).unwrap();
            let mut sizes = vec![0; store.chunks.len()];
            for j in 0..store.len() {
                sizes[store.place(j).0] += store.bytes_of(j);
            }
            sizes
        };
        assert_eq!(sizes(300), [330, 330, 340]);
        assert_eq!(sizes(999), [1000]);
        assert_eq!(sizes(1000), [1000]);
        assert_eq!(sizes(5000), [1000]);
        assert_eq!(sizes(450), [500, 500]);
    }

    #[test]
    fn no_texts_make_no_chunks() {
        let store = ClassTexts::copy(&texts(&[Some("x")]), &[], &[], CHUNK).unwrap();
        assert_eq!((store.len(), store.chunks_held()), (0, 0));
        let err = ClassTexts::copy(&texts(&[Some("x")]), &[3], &[0], CHUNK).err().unwrap();
        assert!(matches!(err, Error::Internal(_)), "{err}");
    }
}
