//! The writer lock of an index directory: an advisory lock (`flock` on Unix, `LockFileEx` on
//! Windows, through std's `File::try_lock`) on the file `lock` inside it.
//!
//! Every command that writes an index takes it before it loads the index and holds it until
//! its save is done, so two writers never interleave (each would otherwise save what it loaded
//! plus its own changes, and the later save would drop the earlier one's demos). A second
//! writer fails at once with [`RetrieverError::Locked`] instead of waiting: a script sees a
//! clear, retryable error, never a hang behind a long embedding run. `DemoRetriever::save`
//! takes the lock itself; `DemoRetriever::save_locked` saves under one the caller holds.
//! Readers (`info`, `query`) take no lock: the save protocol ([`crate::store`]) never changes
//! a file a committed manifest names, so a reader sees one whole generation. The lock is released when the [`IndexLock`] is dropped or the
//! process ends, however it ends; the empty `lock` file stays (removing it would let a third
//! writer lock a new file while the second still holds the old one).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Result, RetrieverError};

/// The lock file's name inside an index directory.
pub const LOCK_FILE: &str = "lock";

/// A held writer lock on an index directory; released on drop.
#[derive(Debug)]
pub struct IndexLock {
    /// Held open for the lock's lifetime: closing the file releases the lock.
    _file: File,
    path: PathBuf,
    dir: PathBuf,
}

impl IndexLock {
    /// Locks the existing directory `dir` for writing, or fails at once with
    /// [`RetrieverError::Locked`] when another writer holds it.
    pub fn try_acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        // No truncate: the file is never written, and truncating a file another process holds
        // would be harmless but pointless.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(RetrieverError::io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path, dir: dir.to_path_buf() }),
            Err(TryLockError::WouldBlock) => Err(RetrieverError::Locked { path }),
            Err(TryLockError::Error(e)) => Err(RetrieverError::io(path)(e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The index directory this lock is held on.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_fails_at_once_until_the_first_is_done() {
        let dir = std::env::temp_dir().join(format!("demo-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = IndexLock::try_acquire(&dir).unwrap();
        let err = IndexLock::try_acquire(&dir).unwrap_err();
        assert!(matches!(&err, RetrieverError::Locked { path } if path == first.path()), "{err}");
        drop(first);
        let again = IndexLock::try_acquire(&dir).unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
