//! `qwen3-vl-embed migrate`: a text-only library (demos indexed without screenshots) upgraded
//! to a multimodal one in a new directory, each demo's screenshot named by a folder of
//! `<demo_id>.png` or a JSON map (the seed's `migrate_text_index_to_multimodal`).

use std::path::PathBuf;

use clap::Args;
use demo_retriever::{DemoRetriever, RetrieverError, ScreenshotResolver, check_out_dir, is_index_dir};

use crate::demo_build::{BuildArgs, build};
use crate::failure::CmdResult;
use crate::model_load::load_embedder;

/// The options of `migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// The text-only index directory (left as it is).
    index: PathBuf,
    /// A folder of `<demo_id>.png`, or a JSON file `{ "<demo_id>": "<path>" }` (relative paths
    /// from the file's folder). Demos it names no screenshot for stay text-only.
    #[arg(long, value_name = "DIR|MAP.json")]
    screenshots: PathBuf,
    /// The new index directory (new or empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    build: BuildArgs,
}

/// Runs `migrate`: everything is checked and embedded before the new directory is written,
/// by the save protocol every command uses.
pub fn run(args: MigrateArgs) -> CmdResult {
    check_out_dir(&args.out)?;
    if is_index_dir(&args.out) {
        let reason = "holds an index; migrate writes a new one (choose a new or empty directory)".into();
        return Err(RetrieverError::NotAnIndexDir { path: args.out, reason }.into());
    }
    let old = DemoRetriever::load(&args.index)?;
    let resolver = ScreenshotResolver::from_path(&args.screenshots)?;
    let (mut migrated, found) = old.with_screenshots(&resolver)?;
    let embedder = load_embedder(&migrated.settings().model.clone(), &args.build.device, args.build.batch_size)?;
    let report = build(&mut migrated, &embedder, args.build.batch_size, args.build.skip_bad)?;
    migrated.save(&args.out)?;
    crate::output::print_line(format_args!(
        "migrated {} demos from {} into {} ({} with a screenshot, {} text-only; embedded {}, reused {})",
        migrated.len(),
        args.index.display(),
        args.out.display(),
        found.with_screenshot,
        found.text_only,
        report.embedded,
        report.reused
    ))
}
