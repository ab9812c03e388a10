//! Packed weights viewed in place: the parts of a packed weight either own their memory or
//! view bytes held elsewhere (a file mapped by the caller), so a model stored in the kernels'
//! own layout loads without a copy.
//!
//! Why: packing into fresh memory costs a pass over the weights plus the kernel zeroing every
//! new page; a load from a mapped file in this layout costs neither (`benches/model/README.md`,
//! "a load from the kernels' layout").

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

use bytemuck::Pod;

use crate::Error;

/// Bytes a packed weight can view instead of copying: a range of a buffer held elsewhere (a
/// memory-mapped file, or any owned bytes), kept alive by this handle.
#[derive(Clone)]
pub struct SharedBytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    len: usize,
}

impl SharedBytes {
    /// `range` of `owner`'s bytes; a range past the end is an [`Error::Shape`].
    pub fn new(owner: Arc<dyn AsRef<[u8]> + Send + Sync>, range: Range<usize>) -> Result<Self, Error> {
        let total = (*owner).as_ref().len();
        if range.start > range.end || range.end > total {
            return Err(Error::Shape { what: "shared byte range end", expected: total, found: range.end });
        }
        Ok(SharedBytes { owner, start: range.start, len: range.len() })
    }

    /// Owned bytes as a shared range (sources that cannot be mapped read into one of these).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        SharedBytes { owner: Arc::new(bytes), start: 0, len }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.start..][..self.len]
    }

    /// Their count.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedBytes({} bytes at {})", self.len, self.start)
    }
}

/// One array of a packed weight (values, scales, ...): its own memory, or bytes viewed in place.
#[derive(Clone, Debug)]
pub(crate) enum Part<T> {
    /// Packed here, at load.
    Owned(Vec<T>),
    /// Viewed in place; the bytes' alignment suits `T` (checked when made).
    Shared(SharedBytes),
}

impl<T: Pod> Part<T> {
    /// A part of `len` values of `T` from their little-endian bytes. Viewed in place when the
    /// bytes are aligned for `T`, else copied (a file written by someone else may not align
    /// its tensors). A byte count other than `len` values is an [`Error::Shape`].
    pub(crate) fn from_shared(what: &'static str, bytes: SharedBytes, len: usize) -> Result<Self, Error> {
        let size = size_of::<T>();
        if len.checked_mul(size) != Some(bytes.len()) {
            return Err(Error::Shape { what, expected: len.saturating_mul(size), found: bytes.len() });
        }
        if cfg!(target_endian = "big") {
            // The stored layout is little-endian; every target this crate ships on is too.
            return Err(Error::Value { what, expected: "a little-endian CPU", found: "a big-endian one".into() });
        }
        Ok(match bytemuck::try_cast_slice::<u8, T>(bytes.as_bytes()) {
            Ok(_) => Part::Shared(bytes),
            Err(_) => {
                let mut values = vec![T::zeroed(); len];
                bytemuck::cast_slice_mut::<T, u8>(&mut values).copy_from_slice(bytes.as_bytes());
                Part::Owned(values)
            }
        })
    }

    /// The values' little-endian bytes (what [`Self::from_shared`] reads back).
    pub(crate) fn as_le_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self)
    }
}

impl<T: Pod> Deref for Part<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Part::Owned(values) => values,
            // Alignment and length were checked in `from_shared`; the cast cannot fail.
            Part::Shared(bytes) => bytemuck::cast_slice(bytes.as_bytes()),
        }
    }
}

/// Exactly `N` parts, or an [`Error::Shape`] naming the count.
pub(crate) fn exact_parts<const N: usize>(parts: Vec<SharedBytes>) -> Result<[SharedBytes; N], Error> {
    let found = parts.len();
    parts.try_into().map_err(|_| Error::Shape { what: "packed weight parts", expected: N, found })
}

/// The product of `factors`, or `usize::MAX` when it overflows (no byte count matches that).
pub(crate) fn product(factors: &[usize]) -> usize {
    factors.iter().try_fold(1usize, |a, &f| a.checked_mul(f)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misaligned_bytes_are_copied_and_read_the_same() {
        let values: Vec<f32> = (0..9).map(|i| i as f32 * 1.5 - 3.0).collect();
        let mut bytes = vec![0u8];
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes);
        // One of the two offsets is misaligned for f32 whatever the allocation's alignment.
        for start in [1, 5] {
            let end = start + 4 * (values.len() - start / 4);
            let shared = SharedBytes::new(owner.clone(), start..end).unwrap();
            let part = Part::<f32>::from_shared("test", shared, values.len() - start / 4).unwrap();
            assert!(matches!(part, Part::Owned(_)), "misaligned bytes are copied");
            assert_eq!(&part[..], &values[start / 4..]);
            assert_eq!(part.as_le_bytes(), &(*owner).as_ref()[start..end]);
        }
    }

    #[test]
    fn aligned_bytes_are_viewed_in_place() {
        let shared = SharedBytes::from_vec(1.25f32.to_le_bytes().repeat(8));
        let part = Part::<f32>::from_shared("test", shared, 8).unwrap();
        assert!(matches!(part, Part::Shared(_)));
        assert_eq!(&part[..], &[1.25f32; 8]);
    }

    #[test]
    fn wrong_byte_counts_and_ranges_are_errors() {
        let shared = SharedBytes::from_vec(vec![0u8; 10]);
        assert!(matches!(
            Part::<f32>::from_shared("scales", shared, 3),
            Err(Error::Shape { what: "scales", expected: 12, found: 10 })
        ));
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(vec![0u8; 10]);
        assert!(SharedBytes::new(owner, 4..11).is_err());
    }

    /// Every part of `parts` in one buffer, each starting `offset` bytes past a multiple of 64
    /// (the buffer's start is at least 8-aligned), with filler bytes between them.
    fn stored(parts: Vec<&[u8]>, offset: usize) -> Vec<SharedBytes> {
        let (mut buffer, mut ranges) = (Vec::new(), Vec::new());
        for part in parts {
            while buffer.len() % 64 != offset {
                buffer.push(0xAB);
            }
            ranges.push(buffer.len()..buffer.len() + part.len());
            buffer.extend_from_slice(part);
        }
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(buffer);
        ranges.into_iter().map(|r| SharedBytes::new(owner.clone(), r).unwrap()).collect()
    }

    #[test]
    fn weights_viewed_from_their_stored_parts_give_the_packed_products_bit_for_bit() {
        use crate::testutil::{Rng, SHAPES};
        use crate::{PackedBf16, PackedQ4, PackedQ8, matmul_bf16, matmul_q4, matmul_q8};
        let bits = |y: Vec<f32>| y.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        for (m, k, n) in SHAPES {
            let mut rng = Rng::new((m * 31 + k * 7 + n) as u64);
            let (w, x) = (rng.values(k * n), rng.values(m * k));
            let run = |f: &dyn Fn(&mut [f32])| {
                let mut y = vec![0.0f32; m * n];
                f(&mut y);
                bits(y)
            };
            // Offset 0 is viewed in place, offset 3 misaligns every part (copied).
            for offset in [0, 3] {
                // Packs with `$pack`, views the parts again, and compares both products.
                macro_rules! viewed_again_multiplies_the_same {
                    ($what:literal, $packed:ty, $pack:expr, $matmul:ident) => {{
                        let packed = $pack.unwrap();
                        let back = <$packed>::from_parts(k, n, stored(packed.parts(), offset)).unwrap();
                        assert_eq!(
                            run(&|y| $matmul(&x, m, &packed, y).unwrap()),
                            run(&|y| $matmul(&x, m, &back, y).unwrap()),
                            "{} {m}x{k}x{n} at offset {offset}",
                            $what
                        );
                    }};
                }
                viewed_again_multiplies_the_same!("bf16", PackedBf16, PackedBf16::from_kn_f32(&w, k, n), matmul_bf16);
                viewed_again_multiplies_the_same!("int8", PackedQ8, PackedQ8::from_kn(&w, k, n), matmul_q8);
                viewed_again_multiplies_the_same!("q4", PackedQ4, PackedQ4::from_kn(&w, k, n), matmul_q4);
            }
        }
    }

    #[test]
    fn parts_of_another_shape_or_count_are_errors() {
        use crate::{PackedBf16, PackedQ4, PackedQ8};
        let w = vec![0.5f32; 64 * 40];
        let q8 = PackedQ8::from_kn(&w, 64, 40).unwrap();
        assert!(PackedQ8::from_parts(96, 40, stored(q8.parts(), 0)).is_err());
        assert!(PackedQ8::from_parts(64, 40, stored(q8.parts()[..2].to_vec(), 0)).is_err());
        let q4 = PackedQ4::from_kn(&w, 64, 40).unwrap();
        assert!(PackedQ4::from_parts(64, 70, stored(q4.parts(), 0)).is_err());
        let bf = PackedBf16::from_kn_f32(&w, 64, 40).unwrap();
        assert!(PackedBf16::from_parts(66, 40, stored(bf.parts(), 0)).is_err());
        assert!(PackedBf16::from_parts(usize::MAX, usize::MAX, stored(bf.parts(), 0)).is_err());
    }
}
