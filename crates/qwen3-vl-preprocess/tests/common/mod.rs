//! Fixture access shared by the integration tests. Fixtures live in the workspace's
//! `tests/fixtures/` (made by one documented script with transformers + Pillow); a missing
//! directory is a loud failure, never a skip.

#![allow(dead_code)]

use std::path::PathBuf;

use safetensors::SafeTensors;

/// `tests/fixtures/` at the workspace root.
pub fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    assert!(
        dir.join("reference").is_dir(),
        "fixture directory {} is missing: generate tests/fixtures/reference with the reference \
         script before running these tests",
        dir.display()
    );
    dir
}

/// Reads a fixture file, naming it when it is missing.
pub fn read(rel: &str) -> Vec<u8> {
    let path = fixtures().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Parses a JSON fixture.
pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("fixture {rel} is not JSON: {e}"))
}

/// A loaded safetensors fixture (owns its bytes).
pub struct Tensors {
    bytes: Vec<u8>,
    name: String,
}

impl Tensors {
    pub fn open(rel: &str) -> Self {
        Self { bytes: read(rel), name: rel.to_owned() }
    }

    fn view(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).unwrap_or_else(|e| panic!("{} is not safetensors: {e}", self.name))
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.view().names().into_iter().map(str::to_owned).collect();
        names.sort();
        names
    }

    pub fn has(&self, key: &str) -> bool {
        self.view().names().contains(&key)
    }

    /// Shape and raw little-endian bytes of one tensor.
    pub fn raw(&self, key: &str) -> (Vec<usize>, Vec<u8>) {
        let view = self.view();
        let t = view.tensor(key).unwrap_or_else(|e| panic!("{}: no tensor {key}: {e}", self.name));
        (t.shape().to_vec(), t.data().to_vec())
    }

    pub fn u8(&self, key: &str) -> (Vec<usize>, Vec<u8>) {
        self.raw(key)
    }

    pub fn i64(&self, key: &str) -> (Vec<usize>, Vec<i64>) {
        let (shape, data) = self.raw(key);
        let values = data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
        (shape, values)
    }

    pub fn f32(&self, key: &str) -> (Vec<usize>, Vec<f32>) {
        let (shape, data) = self.raw(key);
        let values = data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        (shape, values)
    }

    /// An `[h, w, 3]` u8 tensor as an RGB image.
    pub fn rgb(&self, key: &str) -> image::RgbImage {
        let (shape, data) = self.u8(key);
        assert_eq!(shape.len(), 3, "{key}: expected [h, w, 3], found {shape:?}");
        image::RgbImage::from_raw(shape[1] as u32, shape[0] as u32, data).unwrap()
    }
}

/// Both fixture tokenizers: one whose post-processor appends `<|endoftext|>`, one that does not.
pub const TOKENIZERS: [&str; 2] =
    ["models/tiny-embedding/tokenizer.json", "models/tiny-embedding-sharded/tokenizer.json"];
