//! Reading an image file from disk with a bound: the one way image inputs (`--image`, demo
//! screenshots) are read, so no caller can be made to read `/dev/zero` until the kernel kills
//! the process, block forever on a FIFO, or load a multi-gigabyte file whole.

#[cfg(not(target_arch = "wasm32"))]
use std::{io::Read, path::Path};

#[cfg(not(target_arch = "wasm32"))]
use crate::error::PreprocessError;

/// The largest image file read, in bytes (64 MiB). A screenshot at the model's 1.8 MP
/// budget is a few MB even as an uncompressed PNG; 64 MiB leaves room for photos up to the
/// [`DecodeLimits`](super::DecodeLimits) side limit while bounding what one input can cost.
pub const MAX_IMAGE_FILE_BYTES: u64 = 64 << 20;

/// Reads an image file of at most `limit` bytes (use [`MAX_IMAGE_FILE_BYTES`]).
///
/// Anything but a regular file (a directory, FIFO, socket or device such as `/dev/zero`) is
/// refused before it is opened, since opening a FIFO blocks until a writer appears; the file
/// type is checked again on the opened file, and the read stops one byte past `limit` in case
/// the file grew after its size was checked.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_image_file(path: &Path, limit: u64) -> Result<Vec<u8>, PreprocessError> {
    let shown = || path.display().to_string();
    let io = |e: std::io::Error| PreprocessError::Io { path: shown(), message: e.to_string() };
    check_regular(path, &std::fs::metadata(path).map_err(io)?, limit)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    check_regular(path, &meta, limit)?;
    // The size was checked just above, so this capacity is bounded by `limit`.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(PreprocessError::ImageFileTooLarge { path: shown(), size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

#[cfg(not(target_arch = "wasm32"))]
fn check_regular(path: &Path, meta: &std::fs::Metadata, limit: u64) -> Result<(), PreprocessError> {
    let path = || path.display().to_string();
    if !meta.is_file() {
        return Err(PreprocessError::NotARegularFile { path: path(), kind: file_kind(&meta.file_type()) });
    }
    if meta.len() > limit {
        return Err(PreprocessError::ImageFileTooLarge { path: path(), size: meta.len(), limit });
    }
    Ok(())
}

/// What a non-regular file is, in words.
#[cfg(not(target_arch = "wasm32"))]
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a directory" } else { "not a regular file" }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn refused(path: &Path) -> PreprocessError {
        read_image_file(path, MAX_IMAGE_FILE_BYTES).unwrap_err()
    }

    #[test]
    fn devices_fifos_directories_and_oversized_files_are_refused_before_reading() {
        let dir = std::env::temp_dir().join(format!("preprocess-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = refused(Path::new("/dev/zero"));
        assert!(matches!(err, PreprocessError::NotARegularFile { kind: "a character device", .. }), "{err}");
        let err = refused(&dir);
        assert!(matches!(err, PreprocessError::NotARegularFile { kind: "a directory", .. }), "{err}");
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // Opening it would block forever with no writer: refused from its metadata alone.
        let err = refused(&fifo);
        assert!(matches!(err, PreprocessError::NotARegularFile { kind: "a FIFO (named pipe)", .. }), "{err}");
        let sparse = dir.join("sparse.png");
        std::fs::File::create(&sparse).unwrap().set_len(MAX_IMAGE_FILE_BYTES + 1).unwrap();
        let err = refused(&sparse);
        assert!(matches!(err, PreprocessError::ImageFileTooLarge { size, .. } if size == MAX_IMAGE_FILE_BYTES + 1));
        assert!(err.to_string().contains("sparse.png"), "{err}");
        let small = dir.join("small.png");
        std::fs::write(&small, b"0123456789").unwrap();
        assert_eq!(read_image_file(&small, 10).unwrap(), b"0123456789");
        let err = read_image_file(&small, 9).unwrap_err();
        assert!(matches!(err, PreprocessError::ImageFileTooLarge { size: 10, limit: 9, .. }), "{err}");
        assert!(matches!(refused(&dir.join("missing.png")), PreprocessError::Io { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
