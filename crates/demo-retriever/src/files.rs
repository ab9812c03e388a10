//! [`LibraryFiles`]: a library's files held in memory, by their names inside the index
//! directory (`manifest.json`, `gen-1/index.json`, `demos/<sha256>.json`, ...).
//!
//! The storage behind [`DemoRetriever::load`](crate::DemoRetriever::load) is
//! `vector_index::fs::Fs`: the real file system natively ([`vector_index::fs::StdFs`]), these
//! files where there is none (wasm32, where JavaScript fills them from a directory URL, a packed
//! file or bytes), so one loader reads both and a library has one format everywhere.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path};

use vector_index::fs::Fs;

/// A library's files by name (`/`-separated, relative to the index directory).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibraryFiles {
    /// Behind a `RefCell` because [`Fs`] writes through `&self` (a save into memory).
    files: RefCell<BTreeMap<String, Vec<u8>>>,
}

impl LibraryFiles {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the file `name` (see [`file_name`] for the names accepted).
    pub fn insert(&mut self, name: &str, bytes: Vec<u8>) -> io::Result<()> {
        let name = file_name(Path::new(name))?;
        self.files.get_mut().insert(name, bytes);
        Ok(())
    }

    /// The bytes of `name`, if present.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.files.borrow().get(name).cloned()
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.files.borrow().contains_key(name)
    }

    /// Every file, by name in byte order.
    pub fn into_map(self) -> BTreeMap<String, Vec<u8>> {
        self.files.into_inner()
    }

    /// The names present, in byte order.
    pub fn names(&self) -> Vec<String> {
        self.files.borrow().keys().cloned().collect()
    }
}

/// The name of `path` inside the library: its normal components joined by `/`. Absolute
/// paths, `..`, `.` and names that are not UTF-8 are refused, so no name can point outside the
/// library when the files are written to a directory ([`crate::pack`]).
pub fn file_name(path: &Path) -> io::Result<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => parts.push(
                part.to_str().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a name that is not UTF-8"))?,
            ),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: only relative names without '.' or '..' belong to a library", path.display()),
                ));
            }
        }
    }
    if parts.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an empty file name"));
    }
    Ok(parts.join("/"))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}: not among the library's files", path.display()))
}

/// Writes go to the map at once: memory has no crash to survive, so fsyncs are no-ops.
impl Fs for LibraryFiles {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.files.borrow_mut().insert(file_name(path)?, bytes.to_vec());
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut files = self.files.borrow_mut();
        let bytes = files.remove(&file_name(from)?).ok_or_else(|| not_found(from))?;
        files.insert(file_name(to)?, bytes);
        Ok(())
    }

    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.files.borrow_mut().remove(&file_name(path)?);
        Ok(())
    }

    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        Ok(self.files.borrow().get(&file_name(path)?).map(|b| b.len() as u64))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.borrow().get(&file_name(path)?).cloned().ok_or_else(|| not_found(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_library() {
        assert_eq!(file_name(Path::new("gen-1/index.json")).unwrap(), "gen-1/index.json");
        for bad in ["", "/etc/passwd", "../x", "gen-1/../../x", "./manifest.json"] {
            assert!(file_name(Path::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_renames_and_reads_through_fs() {
        let files = LibraryFiles::new();
        files.write_synced(Path::new("a/b.tmp"), b"x").unwrap();
        files.rename(Path::new("a/b.tmp"), Path::new("a/b")).unwrap();
        assert_eq!(files.read(Path::new("a/b")).unwrap(), b"x");
        assert_eq!(files.file_len(Path::new("a/b.tmp")).unwrap(), None);
        assert_eq!(files.read(Path::new("nope")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
