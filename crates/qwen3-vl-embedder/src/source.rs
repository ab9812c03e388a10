//! Where a model's files come from: a local directory (always works offline) or a Hugging
//! Face Hub id, downloaded into the standard cache.

use std::path::{Path, PathBuf};

use crate::error::{EmbedError, Result};

/// Files a model directory must hold besides the weights.
pub const REQUIRED_FILES: [&str; 2] = ["config.json", "tokenizer.json"];

/// Resolves `--model`: an existing directory is used as it is; anything else is a Hub id
/// (`owner/name`), fetched into the cache (`HF_HOME`), or read from the cache alone when
/// `HF_HUB_OFFLINE=1`.
pub fn resolve_model_dir(model: &str) -> Result<PathBuf> {
    let path = Path::new(model);
    if path.is_dir() {
        return check_dir(path);
    }
    if path.exists() || model.starts_with('.') || model.starts_with('/') || model.split('/').count() != 2 {
        return Err(EmbedError::ModelSource {
            model: model.into(),
            reason: "not a model directory, and not a Hub id of the form owner/name".into(),
        });
    }
    download(model)
}

fn check_dir(dir: &Path) -> Result<PathBuf> {
    for file in REQUIRED_FILES {
        if !dir.join(file).is_file() {
            return Err(EmbedError::ModelSource {
                model: dir.display().to_string(),
                reason: format!("the directory has no {file}"),
            });
        }
    }
    if !dir.join("model.safetensors").is_file() && !dir.join("model.safetensors.index.json").is_file() {
        return Err(EmbedError::ModelSource {
            model: dir.display().to_string(),
            reason: "the directory has neither model.safetensors nor model.safetensors.index.json".into(),
        });
    }
    Ok(dir.to_path_buf())
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "yes" | "ON" | "on"))
}

#[cfg(all(feature = "hub", not(target_family = "wasm")))]
fn download(model: &str) -> Result<PathBuf> {
    let fail = |reason: String| EmbedError::ModelSource { model: model.into(), reason };
    // Every file of one revision lands in the same snapshot directory of the cache.
    /// Fetches one file of the model's snapshot, from the cache or the Hub.
    type Fetch<'a> = Box<dyn Fn(&str) -> Result<PathBuf> + 'a>;
    let fetch: Fetch = if offline() {
        let repo = hf_hub::Cache::from_env().model(model.to_string());
        Box::new(move |file: &str| {
            repo.get(file).ok_or_else(|| fail(format!("{file} is not in the local cache and HF_HUB_OFFLINE is set")))
        })
    } else {
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_progress(true)
            .with_token(std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let repo = api.model(model.to_string());
        Box::new(move |file: &str| repo.get(file).map_err(|e| fail(format!("{file}: {e}"))))
    };
    let config = fetch("config.json")?;
    fetch("tokenizer.json")?;
    match fetch("model.safetensors.index.json") {
        Ok(index) => {
            let text = std::fs::read_to_string(&index)
                .map_err(|source| EmbedError::Io { path: index.display().to_string(), source })?;
            let shards = qwen3_vl_model::shard_names(&text).map_err(|r| fail(format!("bad shard index: {r}")))?;
            for shard in shards {
                fetch(&shard)?;
            }
        }
        Err(_) => {
            fetch("model.safetensors")?;
        }
    }
    let dir = config.parent().map(Path::to_path_buf).ok_or_else(|| fail("cache path has no parent".into()))?;
    check_dir(&dir)
}

#[cfg(not(all(feature = "hub", not(target_family = "wasm"))))]
fn download(model: &str) -> Result<PathBuf> {
    let _ = offline();
    Err(EmbedError::ModelSource {
        model: model.into(),
        reason: "this build cannot download from the Hub (feature `hub` is off); pass a local directory".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_is_not_a_model_directory_is_a_clear_error() {
        let err = resolve_model_dir("./no/such/dir").unwrap_err().to_string();
        assert!(err.contains("not a model directory"), "{err}");
        let dir = std::env::temp_dir();
        let err = resolve_model_dir(dir.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("has no config.json"), "{err}");
    }

    #[test]
    fn offline_hub_ids_come_only_from_the_cache() {
        // SAFETY: the test sets variables it alone reads; other tests do not touch them.
        unsafe {
            std::env::set_var("HF_HUB_OFFLINE", "1");
            std::env::set_var("HF_HOME", std::env::temp_dir().join("qwen3-vl-embed-empty-hf-home"));
        }
        let err = resolve_model_dir("Qwen/Qwen3-VL-Embedding-2B").unwrap_err().to_string();
        assert!(err.contains("not in the local cache"), "{err}");
    }
}
