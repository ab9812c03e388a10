//! Canonical Huffman tables (DHT) and symbol decoding, with libjpeg's table checks and its
//! answer to a code that is not in the table (17 bits consumed, symbol 0).

use super::bits::BitReader;
use super::{JpegError, corrupt};

/// Codes up to this many bits are decoded with one table lookup.
const FAST_BITS: u32 = 9;

/// A table as stored in the file (counts per code length, symbols in code order), kept so
/// that a scan can check it the way libjpeg does when it first uses it (DC symbol range).
#[derive(Clone)]
pub(super) struct HuffmanTable {
    /// `(length << 8) | symbol` for every `FAST_BITS`-bit prefix whose code is that short;
    /// 0 when the code is longer.
    fast: Box<[u16; 1 << FAST_BITS]>,
    /// Largest code of each length (index 1..=16), -1 when the length has no codes.
    maxcode: [i32; 17],
    /// Added to a code of each length to index `symbols`.
    valoffset: [i32; 17],
    /// Symbols in code order, zero padded to 256 like libjpeg's `huffval`.
    symbols: [u8; 256],
    /// How many symbols the table holds.
    count: usize,
}

impl HuffmanTable {
    /// Builds a table from DHT counts and symbols; over-subscribed code spaces are refused as
    /// libjpeg refuses them (`JERR_BAD_HUFF_TABLE`).
    pub(super) fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self, JpegError> {
        let count: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if count > 256 || count != values.len() {
            return Err(corrupt("bad Huffman table (more than 256 symbols)"));
        }
        let mut symbols = [0u8; 256];
        symbols[..count].copy_from_slice(values);
        let mut maxcode = [-1i32; 17];
        let mut valoffset = [0i32; 17];
        let mut fast = Box::new([0u16; 1 << FAST_BITS]);
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            if n > 0 {
                valoffset[len as usize] = k as i32 - code as i32;
                for _ in 0..n {
                    // Checked per code so that the fast table is never indexed out of range.
                    if code >= 1 << len {
                        return Err(corrupt("bad Huffman table (code space over-subscribed)"));
                    }
                    if len <= FAST_BITS {
                        // Every FAST_BITS-bit continuation of this code decodes to it.
                        let shift = FAST_BITS - len;
                        let first = (code << shift) as usize;
                        let entry = ((len as u16) << 8) | u16::from(symbols[k]);
                        fast[first..first + (1 << shift)].fill(entry);
                    }
                    code += 1;
                    k += 1;
                }
                maxcode[len as usize] = code as i32 - 1;
            }
            // libjpeg (jpeg_make_d_derived_tbl): the codes of a length must leave room, so an
            // all-ones code is refused too.
            if code >= 1 << len {
                return Err(corrupt("bad Huffman table (code space over-subscribed)"));
            }
            code <<= 1;
        }
        Ok(Self { fast, maxcode, valoffset, symbols, count })
    }

    /// Whether every symbol fits a DC table (a difference of at most 15 bits for 8-bit data).
    pub(super) fn valid_for_dc(&self) -> bool {
        self.symbols[..self.count].iter().all(|&s| s <= 15)
    }

    /// Decodes one symbol.
    #[inline]
    pub(super) fn decode(&self, bits: &mut BitReader<'_>) -> Result<u8, JpegError> {
        let peek = bits.peek16();
        let entry = self.fast[(peek >> (16 - FAST_BITS)) as usize];
        if entry != 0 {
            bits.consume(u32::from(entry >> 8))?;
            return Ok(entry as u8);
        }
        for len in FAST_BITS + 1..=16 {
            let code = (peek >> (16 - len)) as i32;
            if code <= self.maxcode[len as usize] {
                bits.consume(len)?;
                return Ok(self.symbols[((code + self.valoffset[len as usize]) & 0xFF) as usize]);
            }
        }
        // libjpeg warns (JWRN_HUFF_BAD_CODE), drops 17 bits and carries on with symbol 0.
        bits.consume(16)?;
        bits.consume(1)?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_subscribed_tables_are_refused() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes cannot exist
        assert!(HuffmanTable::new(&counts, &[0, 1, 2]).is_err());
        counts[0] = 2; // "0" and "1": libjpeg refuses the all-ones code
        assert!(HuffmanTable::new(&counts, &[0, 1]).is_err());
        counts[0] = 1;
        counts[1] = 1;
        assert!(HuffmanTable::new(&counts, &[0, 1]).is_ok());
    }

    #[test]
    fn short_and_long_codes_decode() {
        // Lengths: one 1-bit code (sym 5), then one 12-bit code (sym 9): "0" and "100000000000".
        let mut counts = [0u8; 16];
        counts[0] = 1;
        counts[11] = 1;
        let table = HuffmanTable::new(&counts, &[5, 9]).unwrap();
        let data = [0b0100_0000, 0b0000_0000, 0xAA];
        let mut bits = BitReader::new(&data, 0);
        assert_eq!(table.decode(&mut bits).unwrap(), 5);
        assert_eq!(table.decode(&mut bits).unwrap(), 9);
    }
}
