//! The entropy-coded bit stream of one scan, read the way libjpeg's `jpeg_fill_bit_buffer`
//! reads it: `FF 00` is a data byte `FF`, fill bytes `FF FF` are skipped, and any other marker
//! stops the data. Past a marker the stream reads as zeros; libjpeg then marks the segment as
//! out of data (`insufficient_data`) and leaves the remaining blocks of it blank, which the
//! scan decoder mirrors through [`BitReader::out_of_data`].

use super::{JpegError, corrupt};

/// Reads bits MSB first from the bytes after an SOS header.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Next unread byte.
    pos: usize,
    /// Buffered bits, left aligned.
    acc: u64,
    /// Bits in `acc` (data bits followed by zero padding).
    count: u32,
    /// How many of the leading `count` bits are real data.
    real: u32,
    /// The marker (its code byte) that stopped the data, consumed from `data`.
    marker: Option<u8>,
    /// The data ended without a marker: running into it means the file is truncated.
    at_eof: bool,
    /// Bits past the data were consumed (libjpeg's `insufficient_data`).
    out_of_data: bool,
}

impl<'a> BitReader<'a> {
    /// Starts reading at `pos`.
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        Self { data, pos, acc: 0, count: 0, real: 0, marker: None, at_eof: false, out_of_data: false }
    }

    /// Tops the buffer up to at least 57 bits, with zeros once the data has stopped.
    #[inline]
    fn fill(&mut self) {
        while self.count <= 56 {
            let byte = if self.marker.is_some() || self.at_eof { None } else { self.next_data_byte() };
            if let Some(b) = byte {
                self.acc |= u64::from(b) << (56 - self.count);
                self.real += 8;
            }
            self.count += 8;
        }
    }

    /// The next data byte, or `None` (and the marker noted) when the data stops here.
    fn next_data_byte(&mut self) -> Option<u8> {
        let Some(&b) = self.data.get(self.pos) else {
            self.at_eof = true;
            return None;
        };
        self.pos += 1;
        if b != 0xFF {
            return Some(b);
        }
        // Skip fill bytes; FF 00 stands for a data FF.
        loop {
            let Some(&next) = self.data.get(self.pos) else {
                self.at_eof = true;
                return None;
            };
            self.pos += 1;
            match next {
                0xFF => continue,
                0x00 => return Some(0xFF),
                code => {
                    self.marker = Some(code);
                    return None;
                }
            }
        }
    }

    /// The next 16 bits without consuming them (zeros past the data).
    #[inline]
    pub(super) fn peek16(&mut self) -> u32 {
        if self.count < 16 {
            self.fill();
        }
        (self.acc >> 48) as u32
    }

    /// Drops `n` (at most 32) bits. Running past the data is an error only when the file simply
    /// ends (truncated); past a marker it reads zeros, as libjpeg does.
    #[inline]
    pub(super) fn consume(&mut self, n: u32) -> Result<(), JpegError> {
        if self.count < n {
            self.fill();
        }
        if n > self.real {
            if self.at_eof && self.marker.is_none() {
                return Err(corrupt("the file is truncated inside a scan"));
            }
            self.out_of_data = true;
            self.real = 0;
        } else {
            self.real -= n;
        }
        self.acc <<= n;
        self.count -= n;
        Ok(())
    }

    /// Reads `n` (0..=16) bits as an unsigned number.
    #[inline]
    pub(super) fn bits(&mut self, n: u32) -> Result<u32, JpegError> {
        if n == 0 {
            return Ok(0);
        }
        if self.count < n {
            self.fill();
        }
        let value = (self.acc >> (64 - n)) as u32;
        self.consume(n)?;
        Ok(value)
    }

    /// Reads one bit.
    #[inline]
    pub(super) fn bit(&mut self) -> Result<bool, JpegError> {
        Ok(self.bits(1)? == 1)
    }

    /// Whether the current segment has run out of data (libjpeg's `insufficient_data`).
    pub(super) fn out_of_data(&self) -> bool {
        self.out_of_data
    }

    /// Drops the buffered bits (libjpeg discards them at a restart marker).
    pub(super) fn discard_buffer(&mut self) {
        self.acc = 0;
        self.count = 0;
        self.real = 0;
    }

    /// The marker that stopped the data, if one was read and not yet handled.
    pub(super) fn take_marker(&mut self) -> Option<u8> {
        self.marker.take()
    }

    /// Puts a marker back as not yet handled (libjpeg's `unread_marker`).
    pub(super) fn set_marker(&mut self, marker: Option<u8>) {
        self.marker = marker;
    }

    /// Clears the out-of-data state at a restart (only when no marker is pending, like libjpeg).
    pub(super) fn reset_out_of_data(&mut self) {
        if self.marker.is_none() {
            self.out_of_data = false;
        }
    }

    /// The underlying bytes and the next unread position (for marker searches).
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// Moves the read position (after a marker search consumed bytes).
    pub(super) fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// The bytes being read.
    pub(super) fn data(&self) -> &'a [u8] {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffed_bytes_and_markers() {
        let data = [0xFF, 0x00, 0x12, 0xFF, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(8).unwrap(), 0xFF);
        assert_eq!(r.bits(8).unwrap(), 0x12);
        assert!(!r.out_of_data());
        assert_eq!(r.bits(8).unwrap(), 0, "zeros past a marker");
        assert!(r.out_of_data());
        assert_eq!(r.take_marker(), Some(0xD9));
    }

    #[test]
    fn running_off_the_end_is_truncation() {
        let data = [0xAB];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(4).unwrap(), 0xA);
        assert!(r.bits(8).is_err());
    }
}
