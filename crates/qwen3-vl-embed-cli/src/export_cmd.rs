//! `qwen3-vl-embed export`: an index's vectors and metadata in Qdrant's upsert format, for a
//! library that has outgrown one machine (when that is: `vector_index::export`'s docs).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use demo_retriever::{DemoRetriever, RetrieverError};

use crate::failure::CmdResult;

/// The options of `export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The index directory written by `index`.
    index: PathBuf,
    /// The directory to write `collection.json` (the create-collection request body) and
    /// `points.jsonl` (one upsert request body per line) into; created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Points per line of `points.jsonl` (per upsert request).
    #[arg(long, default_value_t = 256, value_parser = crate::flags::positive)]
    batch: usize,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RetrieverError + '_ {
    move |source| RetrieverError::Io { path: path.to_path_buf(), source }
}

/// Writes `path` through a temporary file in the same directory, renamed over it once
/// complete and synced: a failed export never leaves a truncated file under the final name.
fn write_new(path: &Path, write: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>) -> CmdResult {
    let tmp = path.with_extension("partial");
    let result = (|| {
        let mut out = BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result.map_err(io_error(path))?)
}

/// Runs `export`.
pub fn run(args: ExportArgs) -> CmdResult {
    let retriever = DemoRetriever::load(&args.index)?;
    let index = retriever.index();
    std::fs::create_dir_all(&args.out).map_err(io_error(&args.out))?;
    let collection = args.out.join("collection.json");
    write_new(&collection, |out| {
        serde_json::to_writer_pretty(&mut *out, &index.qdrant_collection())?;
        out.write_all(b"\n")
    })?;
    let points = args.out.join("points.jsonl");
    let mut written = 0;
    write_new(&points, |out| {
        written = index.export_qdrant(out, args.batch)?;
        Ok(())
    })?;
    crate::output::print_line(format_args!(
        "exported {written} points of dimension {} to {} (collection.json, points.jsonl)",
        index.embedding_dim(),
        args.out.display()
    ))
}
