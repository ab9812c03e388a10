//! Reads the reference fixtures that `tools/reference/make_fixtures.py` wrote with
//! transformers: `tests/fixtures/reference/cases.json` and one safetensors file per case.
//!
//! Test-only. The safetensors crate reads them (not our own reader), so a bug in our
//! loader cannot hide in both sides of a comparison.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The repository's `tests/fixtures` directory.
pub fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    assert!(
        dir.join("reference/cases.json").is_file(),
        "reference fixtures missing at {}: run tools/reference/make_fixtures.py",
        dir.display()
    );
    dir
}

/// The tiny checkpoint in the released layout (bf16, legacy rope config, EOS-appending tokenizer).
pub fn tiny_model_dir() -> PathBuf {
    fixtures_dir().join("models/tiny-embedding")
}

/// The same weights stored as f32 shards, `rope_parameters` config, plain tokenizer, extra lm_head.
pub fn tiny_sharded_model_dir() -> PathBuf {
    fixtures_dir().join("models/tiny-embedding-sharded")
}

/// One input of a case, as `cases.json` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseInput {
    /// The text, if any.
    pub text: Option<String>,
    /// Paths relative to `tests/fixtures`.
    pub images: Vec<String>,
    /// The instruction, or `None` for the default.
    pub instruction: Option<String>,
}

/// One reference case: a batch of inputs and the prompts transformers rendered for them.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// The case name; its tensors are in `reference/{name}.safetensors`.
    pub name: String,
    /// The batch, in row order.
    pub inputs: Vec<CaseInput>,
    /// The chat-template string of each input, in row order.
    pub prompts: Vec<String>,
}

impl CaseInput {
    /// Image file contents, in order.
    pub fn image_bytes(&self) -> Vec<Vec<u8>> {
        self.images.iter().map(|p| std::fs::read(fixtures_dir().join(p)).expect("fixture image")).collect()
    }
}

/// Every reference case, in `cases.json` order.
pub fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures_dir().join("reference/cases.json")).expect("cases.json");
    serde_json::from_str(&text).expect("cases.json parses")
}

/// Whether the exhaustive device matrix was asked for: `QWEN3_VL_FULL_MATRIX=1`, which
/// `tools/test-all.sh --full` sets.
pub fn full_matrix() -> bool {
    std::env::var_os("QWEN3_VL_FULL_MATRIX").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The cases a software-GPU run (lavapipe, SwiftShader) checks: all of them under
/// [`full_matrix`], else the representative subset listed in
/// `reference/software_gpu_cases.txt` (the one list the npm tests read too). Prints which, so
/// a subset run says what it left out.
pub fn gpu_cases(what: &str) -> Vec<Case> {
    let all = cases();
    if full_matrix() {
        println!("{what}: all {} reference cases (QWEN3_VL_FULL_MATRIX=1)", all.len());
        return all;
    }
    let list = std::fs::read_to_string(fixtures_dir().join("reference/software_gpu_cases.txt"))
        .expect("software_gpu_cases.txt");
    let names: Vec<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let total = all.len();
    let subset: Vec<Case> = all.into_iter().filter(|c| names.contains(&c.name.as_str())).collect();
    assert_eq!(subset.len(), names.len(), "software_gpu_cases.txt names a case that cases.json lacks: {names:?}");
    println!(
        "{what}: {} of {total} reference cases ({}); QWEN3_VL_FULL_MATRIX=1 runs all",
        subset.len(),
        names.join(", ")
    );
    subset
}

/// A tensor from a reference file, flattened, with its shape.
#[derive(Debug, Clone)]
pub struct RefTensor<T> {
    /// The shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<T>,
}

/// All tensors of one case.
pub struct Reference {
    floats: HashMap<String, RefTensor<f32>>,
    ints: HashMap<String, RefTensor<i64>>,
}

impl Reference {
    /// Reads the f32 and i64 tensors of `reference/{case}.safetensors`; panics if it is unreadable.
    pub fn load(case: &str) -> Self {
        let path = fixtures_dir().join(format!("reference/{case}.safetensors"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let st = safetensors::SafeTensors::deserialize(&bytes).expect("reference safetensors");
        let (mut floats, mut ints) = (HashMap::new(), HashMap::new());
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let data = view.data();
            match view.dtype() {
                safetensors::Dtype::F32 => {
                    let values = data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
                    floats.insert(name, RefTensor { shape, values });
                }
                safetensors::Dtype::I64 => {
                    let values = data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
                    ints.insert(name, RefTensor { shape, values });
                }
                _ => {}
            }
        }
        Self { floats, ints }
    }

    /// The f32 tensor `name`; panics if the case has none.
    pub fn float(&self, name: &str) -> &RefTensor<f32> {
        self.floats.get(name).unwrap_or_else(|| panic!("reference tensor {name} missing"))
    }

    /// The f32 tensor `name`, if the case has one.
    pub fn try_float(&self, name: &str) -> Option<&RefTensor<f32>> {
        self.floats.get(name)
    }

    /// The i64 tensor `name`; panics if the case has none.
    pub fn int(&self, name: &str) -> &RefTensor<i64> {
        self.ints.get(name).unwrap_or_else(|| panic!("reference tensor {name} missing"))
    }

    /// The unpadded token ids of each row (`input_ids` where `attention_mask` is 1).
    pub fn rows(&self) -> Vec<Vec<u32>> {
        let ids = self.int("input_ids");
        let mask = self.int("attention_mask");
        let seq = ids.shape[1];
        (0..ids.shape[0])
            .map(|b| {
                (0..seq).filter(|&s| mask.values[b * seq + s] == 1).map(|s| ids.values[b * seq + s] as u32).collect()
            })
            .collect()
    }

    /// `image_grid_thw` rows, if the case has images.
    pub fn grids(&self) -> Vec<[usize; 3]> {
        self.ints
            .get("image_grid_thw")
            .map(|g| g.values.chunks_exact(3).map(|r| [r[0] as usize, r[1] as usize, r[2] as usize]).collect())
            .unwrap_or_default()
    }
}

/// Largest absolute difference, asserting equal lengths.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
