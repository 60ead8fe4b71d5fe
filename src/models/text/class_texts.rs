//! The training texts of a fit taken class by class into chunks, each given back once every
//! text in it is counted.
//!
//! Counting by class visits the texts class by class ([`pipeline::count_terms`]), the two
//! threads from both ends, so the texts as read (in row order, one buffer) could go back only
//! once all were counted: at a million generated texts they were 156 MB of a peak of 436, held
//! to its end, where both threads' counts are largest. Taken in the order they are counted, in
//! chunks of up to [`CHUNK`] bytes (a text longer than that is a chunk of its own), each chunk
//! goes back as soon as both threads are past it.
//!
//! **Taking them** ([`ClassTexts::taking`]): the places of the texts are laid out from their
//! lengths, then the column is read once, in row order ([`Texts::read_once_keeping`], which
//! keeps the held-out texts and the loss sample in it and gives the pages of the texts read
//! back as it goes), each training text written at its place in its chunk ([`Taking::put`]). The copy thus
//! takes the room of the texts read instead of room beside them (at a million texts the peak of
//! taking them held both, 405 MB).
//!
//! **Each chunk is a memory map of its own** ([`memmap2`]), so that what goes back leaves the
//! process whatever the allocator does. Allocated, a chunk this small lies in glibc's heap
//! (below its adaptive threshold, which a freed memory map of up to 32 MiB raises to its size):
//! given back, its room stayed in the heap, where the finish's allocations then took it and
//! what they freed stayed held (at a million texts, 27 MB more at the peak than chunks of 40
//! to 80 MiB, each a map of glibc's own).
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

/// Bytes of text a chunk holds at most (unless one text takes more): what a thread holds of
/// the texts it counted, at most, before they go back.
pub(super) const CHUNK: usize = 1 << 20;

#[cfg(any(test, feature = "fuzzing"))]
thread_local! {
    /// [`chunk_bytes`] on this thread (tests and fuzzing: chunks of a few texts, see
    /// [`first_pass_at_every_size`](super::first_pass_at_every_size)).
    pub(super) static CHUNK_FOR_TESTS: std::cell::Cell<usize> = const { std::cell::Cell::new(CHUNK) };
}

/// Bytes of text a chunk holds at most: [`CHUNK`] (tests and fuzzing may set less on their
/// thread).
pub(super) fn chunk_bytes() -> usize {
    #[cfg(any(test, feature = "fuzzing"))]
    return CHUNK_FOR_TESTS.with(std::cell::Cell::get);
    #[cfg(not(any(test, feature = "fuzzing")))]
    CHUNK
}

/// What the allocations are called in memory errors.
const WHAT: &str = "the training texts in the order they are counted";

/// About the most chunks [`ClassTexts::taking`] makes (at most twice this: each a memory map, of
/// which a process has some 65,000): from 4 GiB of training texts on, chunks are larger than
/// [`CHUNK`].
const MAX_CHUNKS: usize = 4096;

/// A text's chunk and end in it, from their 32 bits each.
fn split(at: u64) -> (usize, usize) {
    ((at >> 32) as usize, (at & u64::from(u32::MAX)) as usize)
}

/// The error for a position outside the rows taken.
fn out_of_order(i: usize) -> Error {
    Error::Internal(format!("position {i} of the training texts taken in class order"))
}

/// Texts in the order they are counted, in chunks given back as they are counted.
pub(super) struct ClassTexts {
    /// The chunks; None once given back.
    chunks: Vec<Mutex<Option<Arc<Chunk>>>>,
    /// The texts of each chunk not yet counted.
    pending: Vec<AtomicUsize>,
    /// Each text's chunk (the high 32 bits) and its end in it (the low 32 bits).
    at: Vec<u64>,
}

/// A chunk's texts, one after another, in a memory map of its own (see the module notes).
type Chunk = memmap2::MmapMut;

/// A thread's hold on the chunk it reads ([`ClassTexts::read`]).
#[derive(Default)]
pub(super) struct Reader {
    chunk: usize,
    held: Option<Arc<Chunk>>,
}

/// [`ClassTexts`] being taken from a column read once in row order ([`ClassTexts::taking`]):
/// each training text is written at its place as its row is read ([`Taking::put`]).
pub(super) struct Taking<'a> {
    rows: &'a [usize],
    /// Each position's rank in the order (its place is in `at`).
    rank: Vec<u32>,
    at: Vec<u64>,
    chunks: Vec<Chunk>,
    /// The bytes written to each chunk, and the size each is to have.
    filled: Vec<usize>,
    sizes: Vec<usize>,
    /// The next of `rows` to come.
    next: usize,
}

impl ClassTexts {
    /// Room for the texts of `rows` (ascending) of `texts` (`total` bytes of text), NULL as
    /// empty, in the order `order` says (positions in `rows`: class by class), in chunks of up
    /// to `chunk` bytes (more from [`MAX_CHUNKS`] chunks on; a longer text is a chunk of its
    /// own), to be filled as `texts` is read once in row order ([`Taking::put`], then
    /// [`Taking::finish`]). Room is taken fallibly.
    pub(super) fn taking<'a>(
        texts: &Texts,
        (rows, order): (&'a [usize], &[usize]),
        total: usize,
        chunk: usize,
    ) -> Result<Taking<'a>> {
        let ascending = rows.windows(2).all(|w| w[0] < w[1]) && rows.last().is_none_or(|&r| r < texts.len());
        if !ascending || order.len() != rows.len() {
            return Err(Error::Internal("training texts taken in class order from rows out of order".into()));
        }
        // Each text's place, and each chunk's size, so that each is taken at its size: up to
        // `chunk` bytes, or as many as keep the maps about `MAX_CHUNKS`, nor past 4 GiB, where
        // a text's end would not fit its 32 bits.
        let chunk = chunk.max(total.div_ceil(MAX_CHUNKS));
        let mut at: Vec<u64> = memory::with_capacity(order.len(), WHAT)?;
        let mut sizes: Vec<usize> = Vec::new();
        let mut filled = 0usize;
        for &i in order {
            let row = *rows.get(i).ok_or_else(|| out_of_order(i))?;
            let bytes = texts.get(row).map_or(0, str::len);
            let past = filled.saturating_add(bytes);
            if sizes.is_empty() || (filled > 0 && past > chunk) || past > u32::MAX as usize {
                memory::reserve(&mut sizes, 1, WHAT)?;
                sizes.push(0);
                filled = 0;
            }
            filled += bytes;
            let last = sizes.len() - 1;
            sizes[last] = filled;
            let (Ok(c), Ok(end)) = (u32::try_from(last), u32::try_from(filled)) else {
                return Err(Error::Internal(
                    "a text of 4 GiB or more, or 2^32 chunks, taken in class order".into(),
                ));
            };
            at.push(u64::from(c) << 32 | u64::from(end));
        }
        let mut rank: Vec<u32> = memory::zeroed(rows.len(), WHAT)?;
        for (j, &i) in order.iter().enumerate() {
            rank[i] =
                u32::try_from(j).map_err(|_| Error::Internal("2^32 texts taken in class order".into()))?;
        }
        let mut chunks: Vec<Chunk> = memory::with_capacity(sizes.len(), WHAT)?;
        for &size in &sizes {
            chunks.push(memmap2::MmapMut::map_anon(size).map_err(|_| memory::refused(size as f64, WHAT))?);
        }
        let filled = memory::zeroed(sizes.len(), WHAT)?;
        Ok(Taking { rows, rank, at, chunks, filled, sizes, next: 0 })
    }
}

impl Taking<'_> {
    /// Row `row` of the column, read as `text` (None for NULL, taken as empty): written at its
    /// place if it is one of the rows taken. Rows come in order.
    pub(super) fn put(&mut self, row: usize, text: Option<&str>) -> Result<()> {
        if self.rows.get(self.next) != Some(&row) {
            return Ok(());
        }
        let (c, end) = split(self.at[self.rank[self.next] as usize]);
        let bytes = text.unwrap_or("").as_bytes();
        let to = end.checked_sub(bytes.len()).and_then(|start| self.chunks[c].get_mut(start..end));
        to.ok_or_else(|| Error::Internal("a training text taken in class order out of its place".into()))?
            .copy_from_slice(bytes);
        self.filled[c] += bytes.len();
        self.next += 1;
        Ok(())
    }

    /// The texts taken, once every row was read ([`Taking::put`]).
    pub(super) fn finish(self) -> Result<ClassTexts> {
        let Taking { at, chunks, filled, sizes, .. } = self;
        if filled != sizes {
            return Err(Error::Internal(
                "training texts taken in class order to chunks of other sizes".into(),
            ));
        }
        let mut pending: Vec<AtomicUsize> = memory::with_capacity(sizes.len(), WHAT)?;
        pending.extend(sizes.iter().map(|_| AtomicUsize::new(0)));
        for &a in &at {
            *pending[split(a).0].get_mut() += 1;
        }
        let mut held: Vec<Mutex<Option<Arc<Chunk>>>> = memory::with_capacity(sizes.len(), WHAT)?;
        held.extend(chunks.into_iter().map(|chunk| Mutex::new(Some(Arc::new(chunk)))));
        Ok(ClassTexts { chunks: held, pending, at })
    }
}

impl ClassTexts {
    /// Number of texts.
    pub(super) fn len(&self) -> usize {
        self.at.len()
    }

    /// The chunk of text `j` and where the text is in it.
    fn place(&self, j: usize) -> (usize, std::ops::Range<usize>) {
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
            .and_then(|chunk| chunk.get(range))
            .and_then(|bytes| simdutf8::basic::from_utf8(bytes).ok())
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
    use super::super::pipeline::class_order;
    use super::*;

    fn texts(values: &[Option<&str>]) -> Texts {
        values.iter().copied().collect()
    }

    /// `rows` of `column` (of classes `y`) taken class by class into chunks of `chunk` bytes,
    /// those of `keep` kept in it (as `TextColumn::give_back` takes them).
    fn take(
        column: &mut Texts,
        rows: &[usize],
        y: &[u32],
        keep: &[usize],
        chunk: usize,
    ) -> Result<ClassTexts> {
        let order = class_order(y, 3)?;
        let total =
            rows.iter().filter(|&&r| r < column.len()).map(|&r| column.get(r).map_or(0, str::len)).sum();
        let mut taking = ClassTexts::taking(column, (rows, &order), total, chunk)?;
        let read = std::mem::take(column);
        *column = read.read_once_keeping(keep, "the test's kept texts", |row, text| taking.put(row, text))?;
        taking.finish()
    }

    /// The chunk sizes of `store`.
    fn sizes(store: &ClassTexts) -> Vec<usize> {
        let mut sizes = vec![0; store.chunks.len()];
        for j in 0..store.len() {
            sizes[store.place(j).0] += store.bytes_of(j);
        }
        sizes
    }

    /// The texts come class by class, NULL as empty, in chunks; a chunk goes once all its texts
    /// are counted; the column keeps the texts asked alone.
    #[test]
    fn texts_are_read_in_order_and_given_back_by_chunk() {
        let values = [Some("alpha"), None, Some("bb"), Some("a much longer text"), Some("cc"), Some("d")];
        let mut column = texts(&values);
        let (rows, y) = ([0, 1, 2, 3, 5], [1, 0, 1, 2, 0]);
        let store = take(&mut column, &rows, &y, &[2, 4], 8).unwrap();
        assert_eq!(column, texts(&[None, None, Some("bb"), None, Some("cc"), None]));
        let want = ["", "d", "alpha", "bb", "a much longer text"];
        assert_eq!(store.len(), 5);
        let mut reader = Reader::default();
        for (j, w) in want.iter().enumerate() {
            assert_eq!(store.read(j, &mut reader).unwrap(), *w);
            assert_eq!(store.bytes_of(j), w.len());
        }
        // "d" (with NULL's empty text), "alpha" and "bb" (of two classes), then the long text.
        assert_eq!(sizes(&store), [8, 18]);
        assert_eq!(store.chunks_held(), 2);
        for j in [0, 1, 2] {
            store.counted(j);
        }
        assert_eq!(store.chunks_held(), 2, "the first chunk's \"bb\" is not counted yet");
        store.counted(3);
        assert_eq!(store.chunks_held(), 1);
        // The reader still holds the long text's chunk; the first two are gone.
        let mut other = Reader::default();
        let err = store.read(0, &mut other).unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err}");
        store.counted(4);
        assert_eq!(store.chunks_held(), 0);
        assert_eq!(store.read(4, &mut reader).unwrap(), "a much longer text", "held by its reader");
        assert!(store.read(4, &mut other).is_err());
    }

    /// Chunks hold up to the size asked (a longer text alone), whatever the classes, and no
    /// more than about `MAX_CHUNKS` are made.
    #[test]
    fn chunks_hold_up_to_their_size() {
        let texts_of = |n: usize| -> Texts { (0..n).map(|i| Some(format!("{:010}", i))).collect() };
        let sizes_of = |n: usize, y: &[u32], chunk: usize| {
            let rows: Vec<usize> = (0..n).collect();
            sizes(&take(&mut texts_of(n), &rows, y, &[], chunk).unwrap())
        };
        let one = vec![0; 100];
        assert_eq!(sizes_of(100, &one, 300), [300, 300, 300, 100]);
        assert_eq!(sizes_of(100, &one, 305), [300, 300, 300, 100]);
        assert_eq!(sizes_of(100, &one, 5000), [1000]);
        assert_eq!(sizes_of(100, &one, 4), vec![10; 100], "each text longer than a chunk: a chunk each");
        let two: Vec<u32> = (0..100).map(|i| i % 2).collect();
        assert_eq!(sizes_of(100, &two, 5000), [1000]);
        assert_eq!(sizes_of(100, &two, 200), [200; 5]);
        // 10,000 texts of 10 bytes in chunks of 1 byte would be 10,000 maps.
        let many = sizes_of(10_000, &vec![0; 10_000], 1);
        assert!(many.len() <= 2 * MAX_CHUNKS, "{} chunks", many.len());
        assert_eq!(many.iter().sum::<usize>(), 100_000);
    }

    /// The texts read go back as they are taken (where each row holds its own).
    #[test]
    fn pages_go_back_as_the_texts_are_taken() {
        let page = "x".repeat(4096);
        let values: Vec<Option<String>> = (0..1024).map(|i| Some(format!("{i:05}{page}"))).collect();
        let rows: Vec<usize> = (0..1024).collect();
        let y = vec![0; 1024];
        let mut column: Texts = values.iter().cloned().collect();
        let before = memory::GIVEN_BACK.with(std::cell::Cell::get);
        let store = take(&mut column, &rows, &y, &[7], 1 << 20).unwrap();
        let taken = memory::GIVEN_BACK.with(std::cell::Cell::get) - before;
        // 4 MiB and more read: all but the last mebibyte or so went back as they were.
        assert!(taken >= 3 << 20, "{taken} bytes given back");
        assert_eq!(column.get(7), values[7].as_deref());
        let mut reader = Reader::default();
        assert_eq!(store.read(1023, &mut reader).unwrap(), values[1023].as_deref().unwrap());
    }

    #[test]
    fn no_texts_make_no_chunks_and_rows_out_of_order_are_an_error() {
        let mut column = texts(&[Some("x")]);
        let store = take(&mut column, &[], &[], &[0], CHUNK).unwrap();
        assert_eq!((store.len(), store.chunks_held()), (0, 0));
        assert_eq!(column, texts(&[Some("x")]));
        // Empty texts alone: one chunk of no bytes.
        let mut column = texts(&[None, Some(""), None]);
        let store = take(&mut column, &[0, 1, 2], &[0, 1, 0], &[], CHUNK).unwrap();
        assert_eq!((store.len(), store.chunks_held(), sizes(&store)), (3, 1, vec![0]));
        let mut reader = Reader::default();
        assert!((0..3).all(|j| store.read(j, &mut reader).unwrap().is_empty()));
        let mut column = texts(&[Some("x"), Some("y")]);
        for (rows, keep) in [(&[3][..], &[][..]), (&[1, 0], &[]), (&[0, 0], &[]), (&[0], &[1, 1])] {
            let y = vec![0; rows.len()];
            let err = take(&mut column, rows, &y, keep, CHUNK).err().unwrap();
            assert!(matches!(err, Error::Internal(_)), "{err}");
        }
    }
}
