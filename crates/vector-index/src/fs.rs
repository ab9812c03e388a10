//! The file-system operations a save needs, behind a trait so tests can inject a failure (a
//! "crash") at any single step and check that a load still finds a whole index.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::ops::Deref;
use std::path::Path;

/// File-system operations used by [`crate::Index::save_with`], [`crate::Index::load_with`] and
/// [`crate::Index::open_with`].
pub trait Fs {
    /// Creates `dir` and any missing parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates or truncates `path`, writes `bytes` and fsyncs the file.
    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Atomically replaces `to` with `from` (same directory).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Fsyncs a directory, making earlier renames and removals in it durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Removes a file; a missing file is not an error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// The length of a file, or `None` if it does not exist.
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Maps a whole file read-only, for [`crate::Index::open`]; `None` (the default) means this
    /// file system cannot map, and the file is read with [`Fs::read`] instead.
    fn map(&self, path: &Path) -> io::Result<Option<Mapping>> {
        let _ = path;
        Ok(None)
    }
}

/// The bytes of a whole file that stay valid, and in place, while held: a read-only memory map
/// natively ([`StdFs::map`]), or bytes in memory (what a test's [`Fs`] may hand out).
pub struct Mapping(Inner);

enum Inner {
    Bytes(Box<[u8]>),
    #[cfg(not(target_family = "wasm"))]
    Map(memmap2::Mmap),
}

impl Mapping {
    /// Bytes in memory standing for a mapped file.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Inner::Bytes(bytes.into_boxed_slice()))
    }
}

impl Deref for Mapping {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // Both kinds keep their bytes at one address for as long as they live (the index keeps
        // pointers into them: `store.rs`), which is why this is not any `Deref<Target = [u8]>`.
        match &self.0 {
            Inner::Bytes(b) => b,
            #[cfg(not(target_family = "wasm"))]
            Inner::Map(m) => m,
        }
    }
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mapping({} bytes)", self.len())
    }
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs;

impl Fs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // Directories can be opened read-only and fsynced on Unix; elsewhere this is a no-op.
        #[cfg(unix)]
        fs::File::open(dir)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    /// Memory-maps the file natively (an empty file, which cannot be mapped, is read); wasm32
    /// has no file system, so there it reads.
    fn map(&self, path: &Path) -> io::Result<Option<Mapping>> {
        #[cfg(not(target_family = "wasm"))]
        {
            let file = fs::File::open(path)?;
            if file.metadata()?.len() == 0 {
                return Ok(None);
            }
            // SAFETY: the map is read-only and private to this process. Its contents may change
            // only if another process writes the file in place, which the save protocol never
            // does (it writes new files and renames them over the old ones, whose pages stay
            // mapped). The caller checks the length before viewing any part of it.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            Ok(Some(Mapping(Inner::Map(map))))
        }
        #[cfg(target_family = "wasm")]
        {
            let _ = path;
            Ok(None)
        }
    }
}

/// Replaces `path` with `bytes` atomically and durably: the bytes go to a synced temporary file
/// beside it (`<name>.tmp`), which is renamed over `path`, and the directory is then fsynced so
/// the rename survives a power cut. A reader sees the old file or the new one, never a mix.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("write-atomic-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// vector_index::fs::write_atomic(&dir.join("a.json"), b"{}")?;
/// assert_eq!(std::fs::read(dir.join("a.json"))?, b"{}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    StdFs.write_synced(&tmp, bytes)?;
    StdFs.rename(&tmp, path)?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    StdFs.sync_dir(dir)
}

/// A mapped data file whose sha256 an [`Index::open`](crate::Index::open) did not check yet
/// ([`Index::verify`](crate::Index::verify) does).
pub(crate) struct Unverified {
    /// Which file.
    pub file: crate::DataFile,
    /// Its sha256 as `index.json` records it (hex).
    pub sha256: String,
    /// The mapped bytes.
    pub map: std::sync::Arc<Mapping>,
}
