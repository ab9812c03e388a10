//! The names inside an index directory and the manifest that commits them; the protocol that
//! writes them is in [`crate::store`].

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, RetrieverError};
use crate::retriever::RetrieverSettings;

/// The manifest: the one file whose atomic replacement commits a save.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Where the next manifest is written (and fsynced) before it is renamed over [`MANIFEST_FILE`].
pub(crate) const MANIFEST_TMP: &str = "manifest.json.tmp";
/// The sub-directory of episode files, each named by the sha256 of its bytes.
pub const DEMOS_DIR: &str = "demos";
/// The embedding cache's name inside a generation directory.
pub const CACHE_FILE: &str = "embedding_cache.jsonl";
/// The manifest format this version writes; the layout before manifests counts as 1.
pub const FORMAT_VERSION: u32 = 2;
/// A manifest is a few hundred bytes; anything far larger is not one, and is refused before
/// it is read whole.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
const GENERATION_PREFIX: &str = "gen-";
/// Suffix of a file being written, renamed to its final name once complete and fsynced.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// What [`MANIFEST_FILE`] holds: which generation is committed, and the settings it was built
/// with. Generation `N`'s files are `gen-N/` (the vector index and [`CACHE_FILE`]) and the
/// episode files its index items name by sha256 in [`DEMOS_DIR`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// [`FORMAT_VERSION`] when written by this version.
    pub format_version: u32,
    /// The committed generation, one more than the one it replaced.
    pub generation: u64,
    /// What the index was built with (the layout before manifests kept this in `retriever.json`).
    pub settings: RetrieverSettings,
}

impl Manifest {
    /// The manifest committing `generation` of a library built with `settings`, as saved.
    pub fn new(generation: u64, settings: RetrieverSettings) -> Self {
        Self { format_version: FORMAT_VERSION, generation, settings }
    }

    /// The file's bytes (pretty JSON, so a person can read the settings).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest (strings and numbers) serialises")
    }
}

/// The directory of generation `generation` (the vector index and the cache).
pub(crate) fn generation_dir(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{GENERATION_PREFIX}{generation}"))
}

/// The generation a directory entry named `gen-<N>` belongs to (`N` written as
/// [`generation_dir`] writes it, so no two names map to one generation).
pub(crate) fn parse_generation(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(GENERATION_PREFIX)?;
    let n: u64 = digits.parse().ok()?;
    (n.to_string() == digits).then_some(n)
}

/// The episode file of a demo whose bytes have this sha256 (hex).
pub(crate) fn demo_file(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(DEMOS_DIR).join(format!("{sha256}.json"))
}

/// The saved state a directory holds, as a reader or the next save sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Committed {
    /// No index: neither a manifest nor the layout before it.
    Nothing,
    /// The layout before manifests ([`crate::legacy`]), migrated by the next save.
    Legacy,
    /// A committed manifest: its exact bytes (so a reader can tell whether a save committed
    /// meanwhile) and what they say.
    Manifest {
        /// The file's bytes.
        bytes: Vec<u8>,
        /// Their meaning.
        manifest: Manifest,
    },
}

impl Committed {
    /// Reads what `dir` holds now. A manifest, when there is one, is the state; leftovers of
    /// saves that did not commit are never looked at.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(if crate::legacy::holds_index(dir) { Self::Legacy } else { Self::Nothing });
            }
            Err(e) => return Err(RetrieverError::io(path)(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes).map_err(RetrieverError::io(&path))?;
        Self::parse(bytes, &path)
    }

    /// The state a manifest's bytes commit (`path` names it in errors); more than
    /// [`MAX_MANIFEST_BYTES`] is refused before it is parsed.
    pub fn parse(bytes: Vec<u8>, path: &Path) -> Result<Self> {
        let bad = |reason: String| RetrieverError::BadIndexDir { path: path.to_path_buf(), reason };
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(bad(format!("larger than {MAX_MANIFEST_BYTES} bytes: not a manifest")));
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid manifest: {e}")))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} (this version reads {FORMAT_VERSION}): written by another version of qwen3-vl-embed",
                manifest.format_version
            )));
        }
        Ok(Self::Manifest { bytes, manifest })
    }

    /// The committed generation; 0 when there is none yet.
    pub fn generation(&self) -> u64 {
        match self {
            Self::Manifest { manifest, .. } => manifest.generation,
            Self::Nothing | Self::Legacy => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_names_round_trip_and_nothing_else_parses() {
        for n in [0, 1, 42, u64::MAX] {
            let dir = generation_dir(Path::new("x"), n);
            assert_eq!(parse_generation(dir.file_name().unwrap().to_str().unwrap()), Some(n));
        }
        for name in ["gen-", "gen-01", "gen-+1", "gen-1.tmp", "gen-18446744073709551616", "generation-1", "demos"] {
            assert_eq!(parse_generation(name), None, "{name}");
        }
    }
}
