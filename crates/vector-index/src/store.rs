//! A growable array that starts either in memory or as a view into a memory-mapped file
//! ([`Index::open`](crate::Index::open)), so opening an index does not read its vectors: pages
//! are read when a search touches them. The first write copies a mapped array into memory
//! (copy on write, once), so every mutation path stays the plain `Vec` one.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::fs::Mapping;

/// Element types that may be viewed in place in a file's bytes: every bit pattern is a valid
/// value and there is no padding.
///
/// # Safety
/// Implementors must be plain data: `Copy`, no padding, any bit pattern valid.
pub(crate) unsafe trait Plain: Copy {}

// SAFETY: f32 is 4 plain bytes; every bit pattern is some f32 (NaNs included).
unsafe impl Plain for f32 {}

/// The elements, owned or mapped.
pub(crate) enum Store<T: Plain> {
    Owned(Vec<T>),
    /// `len` elements of `T` at `ptr`, inside `map` (checked in bounds and aligned). The pointer
    /// is kept so that reading a row costs no more than with a `Vec`.
    Mapped {
        map: Arc<Mapping>,
        ptr: NonNull<T>,
        len: usize,
    },
}

// SAFETY: a mapped store only reads through `ptr`, which points into the immutable bytes that
// `map` owns (they never move: see `Mapping`), and `Mapping` is `Send + Sync`; so sharing or
// sending it is like sharing or sending a `&[T]` with the `Arc` that keeps it alive.
unsafe impl<T: Plain + Send + Sync> Send for Store<T> {}
// SAFETY: as above.
unsafe impl<T: Plain + Send + Sync> Sync for Store<T> {}

impl<T: Plain> Store<T> {
    /// A view of `len` elements at byte `offset` of `map`, or `None` when that range is out of
    /// bounds, misaligned for `T`, or the target is big-endian (the files are little-endian).
    pub(crate) fn mapped(map: Arc<Mapping>, offset: usize, len: usize) -> Option<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        let region = map.get(offset..offset.checked_add(bytes)?)?;
        let aligned = region.as_ptr().align_offset(std::mem::align_of::<T>()) == 0;
        if !aligned || cfg!(target_endian = "big") {
            return None;
        }
        let ptr = NonNull::new(region.as_ptr().cast_mut().cast::<T>())?;
        Some(Store::Mapped { map, ptr, len })
    }

    /// The elements.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Store::Owned(v) => v,
            // SAFETY: `mapped` checked that the `len` elements at `ptr` are inside the mapping
            // and aligned for `T`; `T: Plain` accepts any bytes; the mapping's bytes stay in
            // place as long as `self` holds the Arc and are never written through. (A file
            // truncated by another process while mapped would fault on access, as with any
            // memory map; the save protocol never truncates a published file: it renames new
            // files over old ones.)
            Store::Mapped { ptr, len, .. } => unsafe { std::slice::from_raw_parts(ptr.as_ptr(), *len) },
        }
    }

    /// The elements as a `Vec` to append to: a mapped store is copied into memory first.
    pub(crate) fn to_mut(&mut self) -> &mut Vec<T> {
        if let Store::Mapped { .. } = self {
            *self = Store::Owned(self.as_slice().to_vec());
        }
        match self {
            Store::Owned(v) => v,
            Store::Mapped { .. } => unreachable!("copied above"),
        }
    }

    /// Whether the elements are a view into a mapped file.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Store::Mapped { .. })
    }
}

impl<T: Plain> Default for Store<T> {
    fn default() -> Self {
        Store::Owned(Vec::new())
    }
}

impl<T: Plain> Clone for Store<T> {
    fn clone(&self) -> Self {
        match self {
            Store::Owned(v) => Store::Owned(v.clone()),
            Store::Mapped { map, ptr, len } => Store::Mapped { map: map.clone(), ptr: *ptr, len: *len },
        }
    }
}
