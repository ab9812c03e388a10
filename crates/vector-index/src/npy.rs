//! The NumPy `.npy` format, restricted to what an embedding matrix needs: a 2-D, C-order,
//! little-endian float32 array.
//!
//! Writing uses format 1.0 with the header padded so the data starts on a 64-byte boundary, as
//! NumPy itself does (`numpy.load(..., mmap_mode="r")` then maps aligned floats). Reading accepts
//! format 1.0, 2.0 and 3.0 headers as NumPy writes them. The reader never trusts the header: its
//! size is capped and `rows * cols * 4` must equal the bytes that follow before anything is
//! allocated.

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes (`numpy.lib.format.ARRAY_ALIGN`).
const ALIGN: usize = 64;
/// Headers longer than this are refused (NumPy itself refuses more than 10 000 bytes by default).
const MAX_HEADER_LEN: usize = 65_536;

/// Why an `.npy` buffer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NpyError {
    /// The buffer does not start with `\x93NUMPY`.
    #[error("not an .npy file (bad magic bytes)")]
    BadMagic,
    /// A format version other than 1.0, 2.0 or 3.0 (major, minor).
    #[error("unsupported .npy format version {0}.{1}")]
    UnsupportedVersion(u8, u8),
    /// The buffer ends before the header does.
    #[error("file ends inside the .npy header")]
    TruncatedHeader,
    /// The header length field exceeds the limit (the length given).
    #[error(".npy header is {0} bytes, more than the limit of {MAX_HEADER_LEN}")]
    HeaderTooLarge(usize),
    /// The header dictionary does not parse (what was wrong).
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    /// An element type other than little-endian float32 (the `descr` found).
    #[error("dtype {0:?} is not supported, expected little-endian float32 '<f4'")]
    UnsupportedDtype(String),
    /// The array is column-major.
    #[error("array is stored in Fortran order, expected C order")]
    FortranOrder,
    /// The array is not 2-D (the shape found).
    #[error("array shape {0:?} is not 2-D")]
    BadShape(Vec<u64>),
    /// The data section is not the size the shape implies.
    #[error("data is {found} bytes, the header's shape needs {expected}")]
    LengthMismatch {
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes after the header.
        found: u64,
    },
}

/// Encodes a row-major `[rows, cols]` matrix as an `.npy` (format 1.0) file.
pub fn write_f32_matrix(rows: usize, cols: usize, data: &[f32]) -> Vec<u8> {
    assert_eq!(data.len(), rows * cols, "matrix data does not match its shape");
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic(6) + version(2) + header length(2) + dict + padding + '\n' must be a multiple of ALIGN.
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let padding = (ALIGN - unpadded % ALIGN) % ALIGN;
    let header_len = dict.len() + padding + 1;
    let mut out = Vec::with_capacity(unpadded + padding + data.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padding));
    out.push(b'\n');
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// A decoded `[rows, cols]` float32 matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix2 {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

/// Decodes an `.npy` buffer holding a 2-D C-order little-endian float32 array.
pub fn read_f32_matrix(bytes: &[u8]) -> Result<Matrix2, NpyError> {
    let (rows, cols, offset) = f32_matrix_layout(bytes)?;
    let data = bytes[offset..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(Matrix2 { rows, cols, data })
}

/// Checks an `.npy` buffer's header as [`read_f32_matrix`] does and returns `(rows, cols,
/// offset of the data)` without decoding the data (which is exactly `rows * cols * 4` bytes
/// from the offset to the end), so a memory-mapped file can be viewed in place.
pub(crate) fn f32_matrix_layout(bytes: &[u8]) -> Result<(usize, usize, usize), NpyError> {
    let (header, data) = split_header(bytes)?;
    let fields = parse_header_dict(header)?;
    if fields.descr != "<f4" && !(fields.descr == "=f4" && cfg!(target_endian = "little")) {
        return Err(NpyError::UnsupportedDtype(fields.descr));
    }
    if fields.fortran_order {
        return Err(NpyError::FortranOrder);
    }
    let [rows, cols] = fields.shape[..] else { return Err(NpyError::BadShape(fields.shape)) };
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| NpyError::BadShape(fields.shape.clone()))?;
    if expected != data.len() as u64 {
        return Err(NpyError::LengthMismatch { expected, found: data.len() as u64 });
    }
    let to_usize = |v: u64| usize::try_from(v).map_err(|_| NpyError::BadShape(fields.shape.clone()));
    Ok((to_usize(rows)?, to_usize(cols)?, bytes.len() - data.len()))
}

/// Splits an `.npy` buffer into its header text and its data bytes.
fn split_header(bytes: &[u8]) -> Result<(&str, &[u8]), NpyError> {
    if bytes.len() < 8 {
        return Err(if MAGIC.starts_with(bytes) { NpyError::TruncatedHeader } else { NpyError::BadMagic });
    }
    if &bytes[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, header_len) = match (major, minor) {
        (1, 0) => (2, bytes.get(8..10).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)),
        (2, 0) | (3, 0) => (4, bytes.get(8..12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)),
        _ => return Err(NpyError::UnsupportedVersion(major, minor)),
    };
    let header_len = header_len.ok_or(NpyError::TruncatedHeader)?;
    if header_len > MAX_HEADER_LEN {
        return Err(NpyError::HeaderTooLarge(header_len));
    }
    let start = 8 + len_bytes;
    let header = bytes.get(start..start + header_len).ok_or(NpyError::TruncatedHeader)?;
    // Format 1.0/2.0 headers are latin-1 but NumPy only ever writes ASCII there; 3.0 is UTF-8.
    let header = std::str::from_utf8(header).map_err(|_| NpyError::BadHeader("header is not text".into()))?;
    Ok((header, &bytes[start + header_len..]))
}

struct HeaderFields {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// Parses the Python dict literal of an `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header_dict(header: &str) -> Result<HeaderFields, NpyError> {
    let bad = |what: &str| NpyError::BadHeader(what.to_string());
    let body = header.trim_end_matches(['\n', ' ', '\0']).trim();
    let body = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')).ok_or_else(|| bad("not a dict"))?;
    let mut cursor = Cursor { rest: body };
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    while !cursor.skip_ws().is_empty() {
        let key = cursor.quoted().ok_or_else(|| bad("expected a quoted key"))?;
        cursor.expect(':').ok_or_else(|| bad("expected ':'"))?;
        match key {
            "descr" => descr = Some(cursor.quoted().ok_or_else(|| bad("descr is not a string"))?.to_string()),
            "fortran_order" => {
                fortran_order = Some(cursor.boolean().ok_or_else(|| bad("fortran_order is not a bool"))?)
            }
            "shape" => shape = Some(cursor.int_tuple().ok_or_else(|| bad("shape is not a tuple of integers"))?),
            other => return Err(NpyError::BadHeader(format!("unexpected key {other:?}"))),
        }
        if cursor.expect(',').is_none() && !cursor.skip_ws().is_empty() {
            return Err(bad("expected ',' between entries"));
        }
    }
    Ok(HeaderFields {
        descr: descr.ok_or_else(|| bad("missing 'descr'"))?,
        fortran_order: fortran_order.ok_or_else(|| bad("missing 'fortran_order'"))?,
        shape: shape.ok_or_else(|| bad("missing 'shape'"))?,
    })
}

/// A tiny reader for the handful of Python literals an `.npy` header contains.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) -> &'a str {
        self.rest = self.rest.trim_start();
        self.rest
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.rest = self.skip_ws().strip_prefix(c)?;
        Some(())
    }

    fn quoted(&mut self) -> Option<&'a str> {
        let s = self.skip_ws();
        let quote = s.chars().next().filter(|q| *q == '\'' || *q == '"')?;
        let end = s[1..].find(quote)? + 1;
        self.rest = &s[end + 1..];
        Some(&s[1..end])
    }

    fn boolean(&mut self) -> Option<bool> {
        let s = self.skip_ws();
        let (value, rest) =
            if let Some(r) = s.strip_prefix("True") { (true, r) } else { (false, s.strip_prefix("False")?) };
        self.rest = rest;
        Some(value)
    }

    fn int_tuple(&mut self) -> Option<Vec<u64>> {
        self.expect('(')?;
        let mut values = Vec::new();
        loop {
            if self.expect(')').is_some() {
                return Some(values);
            }
            let s = self.skip_ws();
            let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            // NumPy 2 may write `np.int64(3)`-free plain ints only; a trailing `L` is Python 2.
            values.push(s[..digits].parse().ok()?);
            self.rest = s[digits..].strip_prefix('L').unwrap_or(&s[digits..]);
            if values.len() > 32 {
                return None;
            }
            if self.expect(',').is_none() {
                self.expect(')')?;
                return Some(values);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `.npy` buffer (format `major`.0) with an arbitrary header dict, padded like NumPy.
    fn with_dict_v(major: u8, dict: &str, data_bytes: usize) -> Vec<u8> {
        let len_bytes = if major == 1 { 2 } else { 4 };
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[major, 0]);
        let pad = (ALIGN - (8 + len_bytes + dict.len() + 1) % ALIGN) % ALIGN;
        let header_len = (dict.len() + pad + 1) as u32;
        bytes.extend_from_slice(&header_len.to_le_bytes()[..len_bytes]);
        bytes.extend_from_slice(dict.as_bytes());
        bytes.extend(std::iter::repeat_n(b' ', pad));
        bytes.push(b'\n');
        bytes.extend(std::iter::repeat_n(0u8, data_bytes));
        bytes
    }

    fn with_dict(dict: &str, data_bytes: usize) -> Vec<u8> {
        with_dict_v(1, dict, data_bytes)
    }

    #[test]
    fn round_trip_and_alignment() {
        for (rows, cols) in [(0, 4), (1, 1), (3, 5), (10, 512)] {
            let data: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.5 - 3.0).collect();
            let bytes = write_f32_matrix(rows, cols, &data);
            assert_eq!((bytes.len() - data.len() * 4) % ALIGN, 0);
            assert_eq!(read_f32_matrix(&bytes).unwrap(), Matrix2 { rows, cols, data });
        }
    }

    #[test]
    fn reads_headers_numpy_writes() {
        // What NumPy writes for np.zeros((2, 3), np.float32).
        let bytes = with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
        assert_eq!(read_f32_matrix(&bytes).unwrap().rows, 2);
        for major in [2, 3] {
            let bytes = with_dict_v(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
            assert_eq!(read_f32_matrix(&bytes).unwrap().cols, 3);
        }
    }

    #[test]
    fn refuses_bad_inputs_with_typed_errors() {
        let good = write_f32_matrix(2, 3, &[1.0; 6]);
        assert_eq!(read_f32_matrix(&good[..good.len() - 1]), Err(NpyError::LengthMismatch { expected: 24, found: 23 }));
        assert_eq!(read_f32_matrix(&good[..20]), Err(NpyError::TruncatedHeader));
        assert_eq!(read_f32_matrix(&good[..3]), Err(NpyError::TruncatedHeader));
        assert_eq!(read_f32_matrix(b"PK\x03\x04zipfile"), Err(NpyError::BadMagic));
        let read = |dict: &str| read_f32_matrix(&with_dict(dict, 24)).unwrap_err();
        assert_eq!(
            read("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"),
            NpyError::UnsupportedDtype("<f8".into())
        );
        assert_eq!(
            read("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"),
            NpyError::UnsupportedDtype(">f4".into())
        );
        assert_eq!(read("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"), NpyError::FortranOrder);
        assert_eq!(read("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }"), NpyError::BadShape(vec![6]));
        assert_eq!(
            read("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
            NpyError::BadShape(vec![4294967296, 4294967296])
        );
        assert_eq!(
            read("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 512), }"),
            NpyError::LengthMismatch { expected: 2_048_000_000, found: 24 }
        );
        assert!(matches!(read("{'descr': '<f4', 'fortran_order': False, 'shapf': (2, 3), }"), NpyError::BadHeader(_)));
        assert!(matches!(read("{'descr': '<f4', 'fortran_order': False"), NpyError::BadHeader(_)));
        assert!(matches!(read("['descr']"), NpyError::BadHeader(_)));
        let mut v9 = good.clone();
        v9[6] = 9;
        assert_eq!(read_f32_matrix(&v9), Err(NpyError::UnsupportedVersion(9, 0)));
    }
}
