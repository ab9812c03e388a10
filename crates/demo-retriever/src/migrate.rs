//! Upgrading a text-only library (demos indexed without screenshots) to a multimodal one, as
//! the seed's `migrate_text_index_to_multimodal`: a resolver names each demo's screenshot, and
//! every demo is embedded again as goal + screenshot by the next build.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{DemoError, DemoProblem, Result, RetrieverError};
use crate::retriever::DemoRetriever;

/// A screenshot map is a few hundred bytes per demo; past this it is not one.
const MAX_MAP_BYTES: u64 = 64 << 20;

/// Where each demo's screenshot is: the seed's `screenshot_resolver(demo_id) -> path`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScreenshotResolver {
    /// A folder of `<demo_id>.png`.
    Folder(PathBuf),
    /// A JSON object `{ "<demo_id>": "<path>" }`, relative paths taken from the file's folder.
    Map(BTreeMap<String, PathBuf>),
}

impl ScreenshotResolver {
    /// A folder (of `<demo_id>.png`) or a JSON map file, by what `path` is.
    pub fn from_path(path: &Path) -> Result<Self> {
        let io = |source| RetrieverError::Io { path: path.to_path_buf(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Ok(Self::Folder(path.to_path_buf()));
        }
        let bad = |reason: String| {
            RetrieverError::BadDemos(vec![DemoError {
                origin: path.display().to_string(),
                problem: DemoProblem::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, reason)),
            }])
        };
        if !meta.is_file() || meta.len() > MAX_MAP_BYTES {
            return Err(bad(format!("a screenshot map is a JSON file of at most {MAX_MAP_BYTES} bytes")));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path).and_then(|f| f.take(MAX_MAP_BYTES).read_to_end(&mut bytes)).map_err(io)?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("expected a JSON object of demo id to screenshot path: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Self::Map(map.into_iter().map(|(id, p)| (id, base.join(p))).collect()))
    }

    /// The screenshot of `demo_id`, if the resolver names one that exists (a map entry naming
    /// a missing file is the demo's error: the caller asked for that file).
    pub fn resolve(&self, demo_id: &str) -> std::result::Result<Option<PathBuf>, DemoError> {
        let (path, required) = match self {
            Self::Folder(dir) => (dir.join(format!("{demo_id}.png")), false),
            Self::Map(map) => match map.get(demo_id) {
                Some(p) => (p.clone(), true),
                None => return Ok(None),
            },
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(std::path::absolute(&path).unwrap_or(path))),
            _ if !required => Ok(None),
            Ok(_) => Err(missing(demo_id, path, std::io::Error::other("not a file"))),
            Err(e) => Err(missing(demo_id, path, e)),
        }
    }
}

fn missing(demo_id: &str, path: PathBuf, source: std::io::Error) -> DemoError {
    DemoError { origin: format!("demo {demo_id}"), problem: DemoProblem::MissingScreenshot { path, source } }
}

/// What [`DemoRetriever::with_screenshots`] found.
#[derive(Debug, Default, PartialEq)]
pub struct Migration {
    /// Demos that got a screenshot from the resolver.
    pub with_screenshot: usize,
    /// Demos the resolver had none for: they stay text-only.
    pub text_only: usize,
}

impl DemoRetriever {
    /// A new library with this one's settings and demos, each demo given the screenshot the
    /// resolver names (demos it names none for keep theirs, or stay text-only); every demo is
    /// pending, so the next build embeds goal + screenshot. Nothing of `self` changes.
    pub fn with_screenshots(&self, resolver: &ScreenshotResolver) -> Result<(DemoRetriever, Migration)> {
        let mut out = DemoRetriever::new(self.settings.clone())?;
        let mut report = Migration::default();
        let mut bad = Vec::new();
        for demo in self.demos.values() {
            let mut demo = demo.clone();
            match resolver.resolve(&demo.demo_id) {
                Ok(Some(path)) => {
                    demo.screenshot_path = Some(path);
                    report.with_screenshot += 1;
                }
                Ok(None) => report.text_only += usize::from(demo.screenshot_path.is_none()),
                Err(e) => bad.push(e),
            }
            out.add_demo(demo);
        }
        if !bad.is_empty() {
            return Err(RetrieverError::BadDemos(bad));
        }
        Ok((out, report))
    }
}
