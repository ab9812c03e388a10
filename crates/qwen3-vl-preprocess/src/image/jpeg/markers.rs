//! Marker segments outside the entropy-coded data: finding markers the way libjpeg's
//! `next_marker` does (garbage before a marker is skipped), and parsing DQT, DHT, DRI, SOS and
//! the APP0 (JFIF) / APP14 (Adobe) markers that decide the colour space.

use super::frame::Frame;
use super::huffman::HuffmanTable;
use super::{JpegError, corrupt};

/// Zig-zag index -> natural (row-major) index (libjpeg's `jpeg_natural_order`).
pub(super) const NATURAL_ORDER: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// Finds the next marker at or after `*pos`, skipping any bytes that are not one (libjpeg
/// warns about them and goes on). Returns its code and leaves `*pos` after it; `None` when
/// the data ends first.
pub(super) fn next_marker(data: &[u8], pos: &mut usize) -> Option<u8> {
    loop {
        while *data.get(*pos)? != 0xFF {
            *pos += 1;
        }
        while *data.get(*pos)? == 0xFF {
            *pos += 1;
        }
        let code = data[*pos];
        *pos += 1;
        if code != 0 {
            return Some(code);
        }
        // FF 00 is stuffed entropy data, not a marker: keep looking.
    }
}

/// The payload of the segment whose length field starts at `*pos`; moves `*pos` past it.
pub(super) fn segment<'a>(data: &'a [u8], pos: &mut usize) -> Result<&'a [u8], JpegError> {
    let len = data.get(*pos..*pos + 2).ok_or_else(|| corrupt("the file ends inside a marker segment"))?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if len < 2 {
        return Err(corrupt(format!("marker segment length {len} is less than 2")));
    }
    let payload = data.get(*pos + 2..*pos + len).ok_or_else(|| corrupt("the file ends inside a marker segment"))?;
    *pos += len;
    Ok(payload)
}

/// DQT: one or more tables, 8- or 16-bit entries in zig-zag order, stored in natural order.
pub(super) fn parse_dqt(mut p: &[u8], tables: &mut [Option<[u16; 64]>; 4]) -> Result<(), JpegError> {
    while let Some((&pq_tq, rest)) = p.split_first() {
        let (wide, slot) = (pq_tq >> 4 != 0, usize::from(pq_tq & 15));
        if slot >= 4 {
            return Err(corrupt(format!("DQT names table {slot}; there are 4")));
        }
        let size = if wide { 128 } else { 64 };
        let body = rest.get(..size).ok_or_else(|| corrupt("DQT segment is too short for its table"))?;
        let mut table = [0u16; 64];
        for (k, &natural) in NATURAL_ORDER.iter().enumerate() {
            table[natural] = if wide { u16::from_be_bytes([body[2 * k], body[2 * k + 1]]) } else { u16::from(body[k]) };
        }
        tables[slot] = Some(table);
        p = &rest[size..];
    }
    Ok(())
}

/// Huffman table slots: DC and AC, four each.
#[derive(Default)]
pub(super) struct HuffmanSlots {
    /// DC tables by slot.
    pub(super) dc: [Option<HuffmanTable>; 4],
    /// AC tables by slot.
    pub(super) ac: [Option<HuffmanTable>; 4],
}

/// DHT: one or more tables.
pub(super) fn parse_dht(mut p: &[u8], slots: &mut HuffmanSlots) -> Result<(), JpegError> {
    while !p.is_empty() {
        let head = p.get(..17).ok_or_else(|| corrupt("DHT segment is too short"))?;
        let (class, slot) = (head[0] >> 4, usize::from(head[0] & 15));
        if class > 1 || slot >= 4 {
            return Err(corrupt(format!("DHT names table class {class} slot {slot}")));
        }
        let counts: [u8; 16] = head[1..17].try_into().map_err(|_| corrupt("DHT segment is too short"))?;
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = p.get(17..17 + n).ok_or_else(|| corrupt("DHT segment is too short for its symbols"))?;
        let table = HuffmanTable::new(&counts, values)?;
        if class == 0 {
            slots.dc[slot] = Some(table);
        } else {
            slots.ac[slot] = Some(table);
        }
        p = &p[17 + n..];
    }
    Ok(())
}

/// DRI: the restart interval in MCUs (0 = none).
pub(super) fn parse_dri(p: &[u8]) -> Result<usize, JpegError> {
    match p {
        [hi, lo] => Ok(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => Err(corrupt(format!("DRI segment is {} bytes, expected 2", p.len()))),
    }
}

/// A component as one scan uses it.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScanComponent {
    /// Index into the frame's components.
    pub(super) index: usize,
    /// DC Huffman table slot.
    pub(super) dc: usize,
    /// AC Huffman table slot.
    pub(super) ac: usize,
}

/// A parsed SOS header.
#[derive(Debug, Clone)]
pub(super) struct ScanHeader {
    /// Components in scan order (1..=4).
    pub(super) components: Vec<ScanComponent>,
    /// Spectral selection start (zig-zag index).
    pub(super) ss: usize,
    /// Spectral selection end.
    pub(super) se: usize,
    /// Successive approximation: previous bit position (0 in a first scan).
    pub(super) ah: u8,
    /// Successive approximation: this scan's bit position.
    pub(super) al: u8,
}

/// SOS header, components matched to the frame by identifier like libjpeg (first match; a
/// component named twice is an error).
pub(super) fn parse_sos(p: &[u8], frame: &Frame) -> Result<ScanHeader, JpegError> {
    let n = usize::from(*p.first().ok_or_else(|| corrupt("SOS segment is empty"))?);
    if !(1..=4).contains(&n) || p.len() != 2 * n + 4 {
        return Err(corrupt(format!("SOS segment is {} bytes for {n} components", p.len())));
    }
    let mut components: Vec<ScanComponent> = Vec::with_capacity(n);
    for c in p[1..1 + 2 * n].chunks_exact(2) {
        let index = frame
            .components
            .iter()
            .position(|comp| comp.spec.id == c[0])
            .ok_or_else(|| corrupt(format!("SOS names component {} that the frame lacks", c[0])))?;
        if components.iter().any(|s| s.index == index) {
            return Err(corrupt(format!("SOS names component {} twice", c[0])));
        }
        components.push(ScanComponent { index, dc: usize::from(c[1] >> 4), ac: usize::from(c[1] & 15) });
    }
    let tail = &p[1 + 2 * n..];
    Ok(ScanHeader {
        components,
        ss: usize::from(tail[0]),
        se: usize::from(tail[1]),
        ah: tail[2] >> 4,
        al: tail[2] & 15,
    })
}

/// Whether an APP0 payload is a JFIF marker (libjpeg wants at least 14 bytes).
pub(super) fn is_jfif(p: &[u8]) -> bool {
    p.len() >= 14 && p.starts_with(b"JFIF\0")
}

/// The colour transform of an Adobe APP14 payload (at least 12 bytes), if it is one.
pub(super) fn adobe_transform(p: &[u8]) -> Option<u8> {
    (p.len() >= 12 && p.starts_with(b"Adobe")).then(|| p[11])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_past_garbage_and_stuffing() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xFF, 0xC4, 0x99];
        let mut pos = 0;
        assert_eq!(next_marker(&data, &mut pos), Some(0xC4));
        assert_eq!(pos, 7);
        assert_eq!(next_marker(&data, &mut pos), None);
    }

    #[test]
    fn segments_check_their_length() {
        let mut pos = 0;
        assert_eq!(segment(&[0, 4, 7, 8, 9], &mut pos).unwrap(), &[7, 8]);
        assert_eq!(pos, 4);
        assert!(segment(&[0, 9, 1], &mut 0).is_err());
        assert!(segment(&[0, 1], &mut 0).is_err());
    }

    #[test]
    fn dqt_tables_land_in_natural_order() {
        let mut p = vec![0x01];
        p.extend(0..64u8);
        let mut tables = [None; 4];
        parse_dqt(&p, &mut tables).unwrap();
        let t = tables[1].unwrap();
        assert_eq!((t[0], t[1], t[8], t[63]), (0, 1, 2, 63));
        assert!(parse_dqt(&[0x05], &mut tables).is_err());
    }
}
