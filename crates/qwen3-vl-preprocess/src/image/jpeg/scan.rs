//! Entropy decoding of one scan into the frame's coefficient buffers: sequential Huffman
//! (baseline and extended) and the four progressive scan kinds (DC first/refine, AC
//! first/refine), with restart markers handled like libjpeg (`jdhuff.c`, `jdphuff.c`,
//! `read_restart_marker`, `jpeg_resync_to_restart`), including its treatment of data that runs
//! into a marker: the rest of that restart segment is left blank (uniform grey).

use super::bits::BitReader;
use super::frame::Frame;
use super::huffman::HuffmanTable;
use super::markers::{HuffmanSlots, NATURAL_ORDER, ScanHeader, next_marker};
use super::{JpegError, corrupt};

/// What a scan codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// All 64 coefficients at full precision (SOF0/SOF1).
    Sequential,
    /// Progressive: DC, first pass (high bits).
    DcFirst,
    /// Progressive: one more DC bit.
    DcRefine,
    /// Progressive: a band of AC coefficients, first pass.
    AcFirst,
    /// Progressive: one more bit of a band of AC coefficients.
    AcRefine,
}

/// Where the scan's data ended: the position after it and a marker already read, if any.
pub(super) struct ScanEnd {
    /// Next unread byte.
    pub(super) pos: usize,
    /// A marker the entropy decoder ran into and consumed (libjpeg's `unread_marker`).
    pub(super) marker: Option<u8>,
}

/// Tables one scan component uses.
struct Tables<'t> {
    dc: Option<&'t HuffmanTable>,
    ac: Option<&'t HuffmanTable>,
}

/// Decodes the scan whose entropy-coded data starts at `pos`.
pub(super) fn decode_scan(
    frame: &mut Frame,
    scan: &ScanHeader,
    slots: &HuffmanSlots,
    restart_interval: usize,
    data: &[u8],
    pos: usize,
) -> Result<ScanEnd, JpegError> {
    let kind = classify(frame, scan)?;
    let tables = select_tables(kind, scan, slots)?;
    if frame.progressive {
        // libjpeg's progression bookkeeping (jdphuff.c, start_pass_phuff_decoder): an
        // out-of-order scan only earns a warning, the coefficients' bit positions are noted.
        for sc in &scan.components {
            let bits = &mut frame.components[sc.index].coef_bits;
            for b in &mut bits[scan.ss..=scan.se] {
                *b = scan.al as i8;
            }
        }
    }

    let (mcus_x, mcus_y) = if scan.components.len() == 1 {
        let c = &frame.components[scan.components[0].index];
        (c.width.div_ceil(8), c.height.div_ceil(8))
    } else {
        (frame.mcus_x, frame.mcus_y)
    };
    let single = scan.components.len() == 1;
    let mut bits = BitReader::new(data, pos);
    let mut preds = [0i32; 4];
    let mut eobrun = 0u32;
    let mut next_restart = 0u8;
    for mcu in 0..mcus_x * mcus_y {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            restart(&mut bits, &mut next_restart)?;
            preds = [0; 4];
            eobrun = 0;
        }
        if bits.out_of_data() {
            continue; // libjpeg leaves the rest of the segment's blocks zero
        }
        let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
        for (sc, (t, pred)) in scan.components.iter().zip(tables.iter().zip(preds.iter_mut())) {
            let comp = &mut frame.components[sc.index];
            let (bh, bv) = if single { (1, 1) } else { (comp.spec.h, comp.spec.v) };
            for v in 0..bv {
                for h in 0..bh {
                    let (bx, by) = (mx * bh + h, my * bv + v);
                    let off = (by * comp.blocks_w + bx) * 64;
                    let block = &mut comp.coefs[off..off + 64];
                    match kind {
                        Kind::Sequential => sequential(&mut bits, t, pred, block)?,
                        Kind::DcFirst => dc_first(&mut bits, t, pred, scan.al, block)?,
                        Kind::DcRefine => dc_refine(&mut bits, scan.al, block)?,
                        Kind::AcFirst => ac_first(&mut bits, t, scan, &mut eobrun, block)?,
                        Kind::AcRefine => ac_refine(&mut bits, t, scan, &mut eobrun, block)?,
                    }
                }
            }
        }
    }
    Ok(ScanEnd { pos: bits.position(), marker: bits.take_marker() })
}

/// The scan's kind, refusing progressions libjpeg refuses (`JERR_BAD_PROGRESSION`).
fn classify(frame: &Frame, scan: &ScanHeader) -> Result<Kind, JpegError> {
    if !frame.progressive {
        // Ss/Se/Ah/Al are ignored (libjpeg only warns when they are not 0/63/0/0).
        if scan.components.len() > 1 {
            let blocks: usize = scan
                .components
                .iter()
                .map(|sc| frame.components[sc.index].spec.h * frame.components[sc.index].spec.v)
                .sum();
            if blocks > 10 {
                return Err(corrupt(format!("an MCU of {blocks} blocks (at most 10)")));
            }
        }
        return Ok(Kind::Sequential);
    }
    let dc = scan.ss == 0;
    let bad = if dc { scan.se != 0 } else { scan.ss > scan.se || scan.se > 63 || scan.components.len() != 1 }
        || (scan.ah != 0 && scan.al + 1 != scan.ah)
        || scan.al > 13;
    if bad {
        return Err(corrupt(format!(
            "invalid progressive scan: Ss={} Se={} Ah={} Al={}",
            scan.ss, scan.se, scan.ah, scan.al
        )));
    }
    if dc && scan.components.len() > 1 {
        let blocks: usize = scan
            .components
            .iter()
            .map(|sc| frame.components[sc.index].spec.h * frame.components[sc.index].spec.v)
            .sum();
        if blocks > 10 {
            return Err(corrupt(format!("an MCU of {blocks} blocks (at most 10)")));
        }
    }
    Ok(match (dc, scan.ah == 0) {
        (true, true) => Kind::DcFirst,
        (true, false) => Kind::DcRefine,
        (false, true) => Kind::AcFirst,
        (false, false) => Kind::AcRefine,
    })
}

/// The Huffman tables each scan component needs. A slot the file never defined would get
/// libjpeg-turbo's built-in standard tables (a Motion-JPEG convention); we leave such files to
/// the fallback decoder.
fn select_tables<'t>(kind: Kind, scan: &ScanHeader, slots: &'t HuffmanSlots) -> Result<Vec<Tables<'t>>, JpegError> {
    let (need_dc, need_ac) = match kind {
        Kind::Sequential => (true, true),
        Kind::DcFirst => (true, false),
        Kind::DcRefine => (false, false),
        Kind::AcFirst | Kind::AcRefine => (false, true),
    };
    let pick = |slots: &'t [Option<HuffmanTable>; 4], i: usize| -> Result<&'t HuffmanTable, JpegError> {
        match slots.get(i) {
            None => Err(corrupt(format!("scan uses Huffman table {i}; there are 4"))),
            Some(None) => Err(JpegError::NotExact("JPEG relying on the standard Huffman tables (no DHT)")),
            Some(Some(t)) => Ok(t),
        }
    };
    scan.components
        .iter()
        .map(|sc| {
            let dc = if need_dc { Some(pick(&slots.dc, sc.dc)?) } else { None };
            if dc.is_some_and(|t| !t.valid_for_dc()) {
                return Err(corrupt("a DC Huffman table holds a symbol above 15"));
            }
            let ac = if need_ac { Some(pick(&slots.ac, sc.ac)?) } else { None };
            Ok(Tables { dc, ac })
        })
        .collect()
}

/// Table lookup that the kind guarantees (checked in `select_tables`).
fn table(t: Option<&HuffmanTable>) -> Result<&HuffmanTable, JpegError> {
    t.ok_or_else(|| corrupt("internal: scan table missing"))
}

/// A `s`-bit magnitude category value as a signed number (JPEG's EXTEND).
#[inline]
fn extend(v: u32, s: u32) -> i32 {
    if s == 0 {
        0
    } else if v < 1 << (s - 1) {
        v as i32 - (1 << s) + 1
    } else {
        v as i32
    }
}

/// Natural position of zig-zag index `k`; libjpeg's table runs on past 63 with 63s, which is
/// where corrupt run lengths end up writing.
#[inline]
fn natural(k: usize) -> usize {
    NATURAL_ORDER[k.min(63)]
}

/// One block of a sequential scan: DC difference, then run/size-coded AC coefficients.
fn sequential(bits: &mut BitReader<'_>, t: &Tables<'_>, pred: &mut i32, block: &mut [i16]) -> Result<(), JpegError> {
    let (dc, ac) = (table(t.dc)?, table(t.ac)?);
    let s = u32::from(dc.decode(bits)?);
    let diff = extend(bits.bits(s)?, s);
    *pred = pred.wrapping_add(diff);
    block[0] = *pred as i16;
    let mut k = 1;
    while k < 64 {
        let rs = ac.decode(bits)?;
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r;
            block[natural(k)] = extend(bits.bits(s)?, s) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            break;
        }
        k += 1;
    }
    Ok(())
}

/// Progressive DC first pass: the difference, shifted up by Al.
fn dc_first(
    bits: &mut BitReader<'_>,
    t: &Tables<'_>,
    pred: &mut i32,
    al: u8,
    block: &mut [i16],
) -> Result<(), JpegError> {
    let s = u32::from(table(t.dc)?.decode(bits)?);
    let diff = extend(bits.bits(s)?, s);
    *pred = pred.wrapping_add(diff);
    block[0] = pred.wrapping_shl(u32::from(al)) as i16;
    Ok(())
}

/// Progressive DC refinement: one more bit, at position Al.
fn dc_refine(bits: &mut BitReader<'_>, al: u8, block: &mut [i16]) -> Result<(), JpegError> {
    if bits.bit()? {
        block[0] |= 1 << al;
    }
    Ok(())
}

/// Progressive AC first pass over the band Ss..=Se, with end-of-band runs across blocks.
fn ac_first(
    bits: &mut BitReader<'_>,
    t: &Tables<'_>,
    scan: &ScanHeader,
    eobrun: &mut u32,
    block: &mut [i16],
) -> Result<(), JpegError> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let ac = table(t.ac)?;
    let mut k = scan.ss;
    while k <= scan.se {
        let rs = ac.decode(bits)?;
        let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r as usize;
            let v = extend(bits.bits(s)?, s);
            block[natural(k)] = v.wrapping_shl(u32::from(scan.al)) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = (1 << r) + bits.bits(r)? - 1;
            break;
        }
        k += 1;
    }
    Ok(())
}

/// Adds the next bit of an already non-zero coefficient (away from zero), as libjpeg does.
#[inline]
fn refine(bits: &mut BitReader<'_>, c: &mut i16, p1: i16) -> Result<(), JpegError> {
    if bits.bit()? && *c & p1 == 0 {
        *c = if *c >= 0 { c.wrapping_add(p1) } else { c.wrapping_sub(p1) };
    }
    Ok(())
}

/// Progressive AC refinement (libjpeg's `decode_mcu_AC_refine`): new coefficients are +-1
/// at bit Al, coefficients already non-zero get a correction bit each time they are passed.
fn ac_refine(
    bits: &mut BitReader<'_>,
    t: &Tables<'_>,
    scan: &ScanHeader,
    eobrun: &mut u32,
    block: &mut [i16],
) -> Result<(), JpegError> {
    let p1: i16 = 1 << scan.al;
    let mut k = scan.ss;
    if *eobrun == 0 {
        let ac = table(t.ac)?;
        while k <= scan.se {
            let rs = ac.decode(bits)?;
            let (mut r, s) = (i32::from(rs >> 4), rs & 15);
            // A new coefficient is +-1 at this bit position (libjpeg only warns when s != 1).
            let mut new = 0i16;
            if s != 0 {
                new = if bits.bit()? { p1 } else { -p1 };
            } else if r != 15 {
                *eobrun = (1u32 << r) + bits.bits(r as u32)?;
                break;
            }
            // Skip r zero coefficients (refining the non-zero ones passed on the way).
            loop {
                let c = &mut block[natural(k)];
                if *c != 0 {
                    refine(bits, c, p1)?;
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
                if k > scan.se {
                    break;
                }
            }
            if new != 0 {
                block[natural(k)] = new;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        // Inside an end-of-band run: only refinement bits for the non-zero coefficients.
        while k <= scan.se {
            let c = &mut block[natural(k)];
            if *c != 0 {
                refine(bits, c, p1)?;
            }
            k += 1;
        }
        *eobrun -= 1;
    }
    Ok(())
}

/// libjpeg's `process_restart`: drop buffered bits, expect RSTn, and resynchronise like
/// `jpeg_resync_to_restart` when another marker turns up.
fn restart(bits: &mut BitReader<'_>, expected: &mut u8) -> Result<(), JpegError> {
    bits.discard_buffer();
    let truncated = || corrupt("the file ends where a restart marker was expected");
    let mut marker = match bits.take_marker() {
        Some(m) => m,
        None => {
            let mut pos = bits.position();
            let m = next_marker(bits.data(), &mut pos).ok_or_else(truncated)?;
            bits.seek(pos);
            m
        }
    };
    if marker != 0xD0 + *expected {
        loop {
            let rst = |n: u8| 0xD0 + (n & 7);
            let later = marker == rst(*expected + 1) || marker == rst(*expected + 2);
            let action = if marker < 0xC0 {
                2 // not a valid marker: look further
            } else if !(0xD0..=0xD7).contains(&marker) || later {
                3 // a real marker, or a later restart (this segment is missing): leave it unread
            } else if marker == rst(expected.wrapping_sub(1)) || marker == rst(expected.wrapping_sub(2)) {
                2 // an earlier restart: look further
            } else {
                1 // too far off to tell: take it as the one expected
            };
            match action {
                1 => break,
                2 => {
                    let mut pos = bits.position();
                    marker = next_marker(bits.data(), &mut pos).ok_or_else(truncated)?;
                    bits.seek(pos);
                }
                _ => {
                    bits.set_marker(Some(marker));
                    break;
                }
            }
        }
    }
    *expected = (*expected + 1) & 7;
    bits.reset_out_of_data();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_gives_signed_values() {
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0b010, 3), -5);
        assert_eq!(extend(0b110, 3), 6);
        assert_eq!(extend(0, 0), 0);
    }
}
