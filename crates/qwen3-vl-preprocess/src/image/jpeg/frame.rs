//! The frame header (SOFn) and the per-component coefficient storage it implies, with
//! libjpeg's geometry: component sizes rounded up (`downsampled_width`), storage padded to
//! whole MCUs so that interleaved scans can write their edge blocks.

use super::{JpegError, corrupt};

/// What SOFn says about one component.
#[derive(Debug, Clone, Copy)]
pub(super) struct ComponentSpec {
    /// Identifier that scans use to name it.
    pub(super) id: u8,
    /// Horizontal sampling factor, 1..=4.
    pub(super) h: usize,
    /// Vertical sampling factor, 1..=4.
    pub(super) v: usize,
    /// Quantisation table slot, latched at the component's first scan.
    pub(super) tq: usize,
}

/// A parsed SOFn header.
#[derive(Debug, Clone)]
pub(super) struct FrameHeader {
    /// Sample precision in bits.
    pub(super) precision: u8,
    /// Image width in pixels.
    pub(super) width: u32,
    /// Image height in pixels.
    pub(super) height: u32,
    /// Components in frame order.
    pub(super) components: Vec<ComponentSpec>,
}

impl FrameHeader {
    /// Parses an SOFn payload (after the length field), with libjpeg's checks.
    pub(super) fn parse(p: &[u8]) -> Result<Self, JpegError> {
        if p.len() < 6 {
            return Err(corrupt("SOF segment is too short"));
        }
        let precision = p[0];
        let height = u32::from(u16::from_be_bytes([p[1], p[2]]));
        let width = u32::from(u16::from_be_bytes([p[3], p[4]]));
        let n = usize::from(p[5]);
        if n == 0 || p.len() != 6 + 3 * n {
            return Err(corrupt(format!("SOF segment has {} bytes for {n} components", p.len())));
        }
        let mut components = Vec::with_capacity(n);
        for c in p[6..].chunks_exact(3) {
            let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return Err(corrupt(format!("bad sampling factors {h}x{v}")));
            }
            components.push(ComponentSpec { id: c[0], h, v, tq: usize::from(c[2]) });
        }
        Ok(Self { precision, width, height, components })
    }
}

/// One component's geometry and coefficients.
pub(super) struct Component {
    /// The header's description.
    pub(super) spec: ComponentSpec,
    /// Quantisation table in natural order, latched at the component's first scan.
    pub(super) quant: Option<[u16; 64]>,
    /// Real samples across (`ceil(width * h / max_h)`).
    pub(super) width: usize,
    /// Real rows (`ceil(height * v / max_v)`).
    pub(super) height: usize,
    /// Blocks per row of `coefs` (whole MCUs).
    pub(super) blocks_w: usize,
    /// 64 coefficients per block, natural order, block rows of `blocks_w`.
    pub(super) coefs: Vec<i16>,
    /// Progressive bookkeeping (libjpeg's `coef_bits`): the Al of the last scan that coded each
    /// coefficient (zig-zag index), -1 when none did.
    pub(super) coef_bits: [i8; 64],
}

/// The whole frame: geometry plus every component's coefficients.
pub(super) struct Frame {
    /// Image width in pixels.
    pub(super) width: usize,
    /// Image height in pixels.
    pub(super) height: usize,
    /// SOF2 (progressive) rather than SOF0/SOF1 (sequential).
    pub(super) progressive: bool,
    /// Largest horizontal sampling factor.
    pub(super) max_h: usize,
    /// Largest vertical sampling factor.
    pub(super) max_v: usize,
    /// MCUs per row of an interleaved scan.
    pub(super) mcus_x: usize,
    /// MCU rows of an interleaved scan.
    pub(super) mcus_y: usize,
    /// Components in frame order.
    pub(super) components: Vec<Component>,
}

impl Frame {
    /// Bytes that decoding this frame allocates: coefficients, sample planes and RGB output.
    /// Computed before anything is allocated.
    pub(super) fn bytes_needed(header: &FrameHeader) -> u64 {
        let g = Geometry::of(header);
        let mut total = u64::from(header.width) * u64::from(header.height) * 3;
        for c in &header.components {
            let blocks = (g.mcus_x * c.h) as u64 * (g.mcus_y * c.v) as u64;
            total += blocks * 64 * 2; // coefficients
            total += blocks * 64; // IDCT output, at most one sample per coefficient
        }
        total
    }

    /// Allocates the coefficient storage (the caller has checked [`Frame::bytes_needed`]).
    pub(super) fn new(header: &FrameHeader, progressive: bool) -> Self {
        let g = Geometry::of(header);
        let (w, h) = (header.width as usize, header.height as usize);
        let components = header
            .components
            .iter()
            .map(|&spec| {
                let (blocks_w, blocks_h) = (g.mcus_x * spec.h, g.mcus_y * spec.v);
                Component {
                    spec,
                    quant: None,
                    width: (w * spec.h).div_ceil(g.max_h),
                    height: (h * spec.v).div_ceil(g.max_v),
                    blocks_w,
                    coefs: vec![0; blocks_w * blocks_h * 64],
                    coef_bits: [-1; 64],
                }
            })
            .collect();
        Self {
            width: w,
            height: h,
            progressive,
            max_h: g.max_h,
            max_v: g.max_v,
            mcus_x: g.mcus_x,
            mcus_y: g.mcus_y,
            components,
        }
    }
}

/// Sampling maxima and the interleaved MCU grid.
struct Geometry {
    /// Largest horizontal sampling factor.
    max_h: usize,
    /// Largest vertical sampling factor.
    max_v: usize,
    /// MCUs per row.
    mcus_x: usize,
    /// MCU rows.
    mcus_y: usize,
}

impl Geometry {
    /// libjpeg's `jdinput.c` arithmetic: MCUs cover `8 * max` pixels, rounded up.
    fn of(header: &FrameHeader) -> Self {
        let max_h = header.components.iter().map(|c| c.h).max().unwrap_or(1);
        let max_v = header.components.iter().map(|c| c.v).max().unwrap_or(1);
        Self {
            max_h,
            max_v,
            mcus_x: (header.width as usize).div_ceil(8 * max_h),
            mcus_y: (header.height as usize).div_ceil(8 * max_v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_round_up_like_libjpeg() {
        // 33x17, 4:2:0: luma 2x2, chroma 1x1.
        let sof = [8, 0, 17, 0, 33, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
        let header = FrameHeader::parse(&sof).unwrap();
        let frame = Frame::new(&header, false);
        assert_eq!((frame.mcus_x, frame.mcus_y), (3, 2));
        let chroma = &frame.components[1];
        assert_eq!((chroma.width, chroma.height), (17, 9));
        assert_eq!((chroma.blocks_w, chroma.coefs.len()), (3, 3 * 2 * 64));
        assert_eq!(frame.components[0].blocks_w, 6);
    }

    #[test]
    fn bad_headers_are_refused() {
        assert!(FrameHeader::parse(&[8, 0, 1, 0, 1, 1, 1, 0x11]).is_err(), "short");
        assert!(FrameHeader::parse(&[8, 0, 1, 0, 1, 1, 1, 0x51, 0]).is_err(), "h = 5");
        assert!(FrameHeader::parse(&[8, 0, 1, 0, 1, 0]).is_err(), "no components");
    }
}
