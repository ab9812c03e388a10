//! A library in one file: the [`LibraryFiles`] of [`DemoRetriever::to_files`](crate::DemoRetriever::to_files)
//! one after another, so a library built by the CLI ships as one download (`qwen3-vl-embed
//! pack`) and a library built in a browser comes back to the CLI (`unpack`).
//!
//! # Format
//! `QVLLIB01` (8 bytes), the number of files (u32 LE), then per file: the name's length (u32 LE),
//! the name (UTF-8, `/`-separated, relative), the data's length (u64 LE), the data; then the
//! sha256 of everything before it (32 bytes).
//!
//! Reading trusts nothing: the checksum is checked first (a truncated or altered file is an
//! error, not a partial library), every length is checked against the bytes that remain before
//! anything is sliced or allocated, and names go through [`crate::files::file_name`] (nothing
//! outside the library, no duplicates).

use sha2::{Digest, Sha256};

use crate::error::{Result, RetrieverError};
use crate::files::LibraryFiles;

/// The first bytes of a packed library (format version 1).
pub const PACK_MAGIC: &[u8; 8] = b"QVLLIB01";
/// No file of a library has a longer name (`demos/<64 hex>.json` is the longest written).
const MAX_NAME_BYTES: usize = 1024;
const CHECKSUM_BYTES: usize = 32;

fn bad(reason: impl Into<String>) -> RetrieverError {
    RetrieverError::BadPack(reason.into())
}

/// The packed form of `files`.
pub fn pack(files: LibraryFiles) -> Vec<u8> {
    let files = files.into_map();
    let mut out = Vec::with_capacity(files.iter().map(|(n, b)| 12 + n.len() + b.len()).sum::<usize>() + 44);
    out.extend_from_slice(PACK_MAGIC);
    out.extend_from_slice(&(files.len() as u32).to_le_bytes());
    for (name, bytes) in &files {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Reads a packed library (see the module docs for what is checked).
pub fn unpack(bytes: &[u8]) -> Result<LibraryFiles> {
    if bytes.len() < PACK_MAGIC.len() + 4 + CHECKSUM_BYTES || !bytes.starts_with(PACK_MAGIC) {
        return Err(bad("not a packed library (no QVLLIB01 header)"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    if Sha256::digest(body).as_slice() != sum {
        return Err(bad("the checksum does not match: the file is truncated or damaged"));
    }
    let mut reader = Reader { rest: &body[PACK_MAGIC.len()..] };
    let count = reader.u32()? as usize;
    let mut files = LibraryFiles::new();
    for i in 0..count {
        let name_len = reader.u32()? as usize;
        if name_len > MAX_NAME_BYTES {
            return Err(bad(format!("file {i}: a name of {name_len} bytes (at most {MAX_NAME_BYTES})")));
        }
        let name = std::str::from_utf8(reader.take(name_len as u64)?)
            .map_err(|_| bad(format!("file {i}: the name is not UTF-8")))?
            .to_owned();
        let data_len = reader.u64()?;
        let data = reader.take(data_len)?.to_vec();
        if files.contains(&name) {
            return Err(bad(format!("{name:?} appears twice")));
        }
        files.insert(&name, data).map_err(|e| bad(format!("file {i}: {e}")))?;
    }
    if !reader.rest.is_empty() {
        return Err(bad(format!("{} bytes after the last file", reader.rest.len())));
    }
    Ok(files)
}

/// Bounds-checked reads from the front of a byte slice.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        if n > self.rest.len() as u64 {
            return Err(bad(format!("a length of {n} bytes runs past the end ({} left)", self.rest.len())));
        }
        let (head, rest) = self.rest.split_at(n as usize);
        self.rest = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LibraryFiles {
        let mut files = LibraryFiles::new();
        files.insert("manifest.json", b"{}".to_vec()).unwrap();
        files.insert("gen-1/ids", b"a\nb\n".to_vec()).unwrap();
        files
    }

    #[test]
    fn round_trips() {
        assert_eq!(unpack(&pack(sample())).unwrap(), sample());
    }

    #[test]
    fn refuses_every_truncation_and_every_flipped_byte() {
        let packed = pack(sample());
        for n in 0..packed.len() {
            assert!(unpack(&packed[..n]).is_err(), "truncated to {n}");
            let mut flipped = packed.clone();
            flipped[n] ^= 1;
            assert!(unpack(&flipped).is_err(), "byte {n} flipped");
        }
    }

    /// A file with a valid checksum but hostile lengths or names (what a crafted file holds).
    fn with_checksum(mut body: Vec<u8>) -> Vec<u8> {
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        body
    }

    #[test]
    fn refuses_hostile_lengths_and_names_without_allocating_them() {
        let header = |count: u32| [PACK_MAGIC.as_slice(), &count.to_le_bytes()].concat();
        let huge_count = with_checksum(header(u32::MAX));
        assert!(matches!(unpack(&huge_count), Err(RetrieverError::BadPack(_))));
        let mut huge_data = header(1);
        huge_data.extend_from_slice(&1u32.to_le_bytes());
        huge_data.push(b'a');
        huge_data.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(unpack(&with_checksum(huge_data)), Err(RetrieverError::BadPack(_))));
        for name in ["../evil", "/etc/passwd", ""] {
            let mut body = header(1);
            body.extend_from_slice(&(name.len() as u32).to_le_bytes());
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(&0u64.to_le_bytes());
            assert!(matches!(unpack(&with_checksum(body)), Err(RetrieverError::BadPack(_))), "{name:?}");
        }
    }
}
