//! `qwen3-vl-embed pack`: an index directory as one file (`demo_retriever::pack`), to ship a
//! library to the npm package (Node, browsers, extensions) as one download. No model needed.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use demo_retriever::pack::pack;
use demo_retriever::{DemoRetriever, RetrieverError};

use crate::failure::CmdResult;

/// The options of `pack`.
#[derive(Args)]
pub struct PackArgs {
    /// The index directory written by `index` or `add`.
    index: PathBuf,
    /// The packed file to write (replaced whole if it exists; never left half-written).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Runs `pack`.
pub fn run(args: PackArgs) -> CmdResult {
    let retriever = DemoRetriever::load(&args.index)?;
    let bytes = pack(retriever.to_files()?);
    write_whole(&args.out, &bytes)?;
    crate::output::print_line(format_args!(
        "packed {} demos from {} into {} ({} bytes)",
        retriever.len(),
        args.index.display(),
        args.out.display(),
        bytes.len()
    ))
}

/// Writes `bytes` to `path` under a temporary name in the same directory, fsynced, then renamed
/// over `path`: a reader sees the old file or the whole new one, never part of it. The
/// temporary file is removed when anything fails.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), RetrieverError> {
    if path.is_dir() {
        let reason = "is a directory; --out names the packed file to write".into();
        return Err(RetrieverError::NotAnIndexDir { path: path.to_path_buf(), reason });
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| RetrieverError::Io { path: p, source }
    };
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(path)(e));
    }
    Ok(())
}
