//! The single-buffer form, for callers without a file system (a browser extension keeps it in
//! IndexedDB). It holds the same parts as a directory, so it is verified the same way:
//!
//! ```text
//! b"QVIXBUF1" | u32 section count | per section: u8 name length, name, u64 length, bytes
//! ```
//! with `index.json` as the first section.

use std::collections::HashMap;

use crate::Index;
use crate::error::{DataFile, LoadError, Problem, Result};
use crate::persist;

const MAGIC: &[u8; 8] = b"QVIXBUF1";

impl Index {
    /// The whole index as one self-describing buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let encoded = persist::encode(self, false);
        let sections =
            std::iter::once((DataFile::IndexJson, &encoded.manifest)).chain(encoded.files.iter().map(|(f, b)| (*f, b)));
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(1 + encoded.files.len() as u32).to_le_bytes());
        for (file, bytes) in sections {
            out.push(file.name().len() as u8);
            out.extend_from_slice(file.name().as_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Reads a buffer made by [`Index::to_bytes`], with the same checks as [`Index::load`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Index> {
        let sections = split(bytes)?;
        let manifest =
            sections.get(DataFile::IndexJson.name()).ok_or(LoadError::new(DataFile::IndexJson, Problem::Missing))?;
        persist::decode(manifest, |file, entry| {
            let bytes = sections.get(file.name()).ok_or(LoadError::new(file, Problem::Missing))?;
            if bytes.len() as u64 != entry.bytes {
                let why = format!("section is {} bytes, index.json says {}", bytes.len(), entry.bytes);
                return Err(LoadError::new(file, Problem::Invalid(why)));
            }
            Ok(persist::Bytes::Read(bytes.to_vec()))
        })
    }
}

fn split(bytes: &[u8]) -> Result<HashMap<&str, &[u8]>, LoadError> {
    let bad = |why: &str| LoadError::new(DataFile::Buffer, Problem::Invalid(why.to_string()));
    let mut rest = bytes.strip_prefix(&MAGIC[..]).ok_or_else(|| bad("not an index buffer (bad magic bytes)"))?;
    let mut take = |len: usize| -> Result<&[u8], LoadError> {
        if len > rest.len() {
            return Err(bad("buffer is truncated"));
        }
        let (head, tail) = rest.split_at(len);
        rest = tail;
        Ok(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    if count > 8 {
        return Err(bad("too many sections"));
    }
    let mut sections = HashMap::new();
    for _ in 0..count {
        let name_len = take(1)?[0] as usize;
        let name = std::str::from_utf8(take(name_len)?).map_err(|_| bad("section name is not UTF-8"))?;
        let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let body = take(usize::try_from(len).map_err(|_| bad("buffer is truncated"))?)?;
        if sections.insert(name, body).is_some() {
            return Err(bad("a section appears twice"));
        }
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes after the last section"));
    }
    Ok(sections)
}
