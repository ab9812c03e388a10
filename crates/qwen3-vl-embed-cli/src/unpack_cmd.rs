//! `qwen3-vl-embed unpack`: a packed library (from `pack`, or the npm package's
//! `Retriever.toBytes()`) as an index directory the other commands read. No model needed.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use demo_retriever::pack::unpack;
use demo_retriever::{DemoRetriever, RetrieverError};

use crate::failure::CmdResult;

/// The largest packed file read (16 GiB): it is read whole into memory, and a library past
/// this size belongs in a vector database (`export`).
const MAX_PACKED_BYTES: u64 = 16 << 30;

/// The options of `unpack`.
#[derive(Args)]
pub struct UnpackArgs {
    /// The packed library file.
    packed: PathBuf,
    /// The index directory to create (it must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Runs `unpack`: every check (checksum, names, episode hashes, settings against vectors) runs
/// before anything is written; the directory is saved under a temporary name next to `--out`
/// and renamed to it once complete.
pub fn run(args: UnpackArgs) -> CmdResult {
    check_empty(&args.out)?;
    let files = unpack(&read_bounded(&args.packed)?)?;
    let retriever = DemoRetriever::from_files(&files)?;
    let mut tmp = args.out.as_os_str().to_os_string();
    tmp.push(format!(".unpack-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let saved = retriever.save(&tmp).and_then(|()| {
        std::fs::rename(&tmp, &args.out).map_err(|source| RetrieverError::Io { path: args.out.clone(), source })
    });
    if let Err(e) = saved {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.into());
    }
    crate::output::print_line(format_args!(
        "unpacked {} demos from {} into {}",
        retriever.len(),
        args.packed.display(),
        args.out.display()
    ))
}

/// `--out` must not exist or be an empty directory: unpacking never mixes into other files.
fn check_empty(out: &Path) -> Result<(), RetrieverError> {
    let refuse = |reason: &str| RetrieverError::NotAnIndexDir { path: out.to_path_buf(), reason: reason.into() };
    match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(RetrieverError::Io { path: out.to_path_buf(), source }),
        Ok(m) if !m.is_dir() => Err(refuse("exists and is not a directory")),
        Ok(_) => match std::fs::read_dir(out).map(|mut d| d.next().is_none()) {
            Ok(true) => Ok(()),
            Ok(false) => Err(refuse("is not empty (unpack creates a new index directory)")),
            Err(source) => Err(RetrieverError::Io { path: out.to_path_buf(), source }),
        },
    }
}

/// Reads a regular file of at most [`MAX_PACKED_BYTES`]: a FIFO or device (`/dev/zero`) is
/// refused before it is read, and no more than the limit is ever read (the file may grow).
fn read_bounded(path: &Path) -> Result<Vec<u8>, RetrieverError> {
    let io = |source| RetrieverError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(RetrieverError::BadPack(format!("{} is not a regular file", path.display())));
    }
    if meta.len() > MAX_PACKED_BYTES {
        return Err(RetrieverError::BadPack(format!("{} is larger than {MAX_PACKED_BYTES} bytes", path.display())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path).and_then(|f| f.take(MAX_PACKED_BYTES + 1).read_to_end(&mut bytes)).map_err(io)?;
    if bytes.len() as u64 > MAX_PACKED_BYTES {
        return Err(RetrieverError::BadPack(format!("{} is larger than {MAX_PACKED_BYTES} bytes", path.display())));
    }
    Ok(bytes)
}
