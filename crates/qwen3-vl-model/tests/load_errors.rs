//! A broken checkpoint or config fails with a typed error that names the problem, before
//! anything large is allocated.

use burn::tensor::{DType, Device};
use qwen3_vl_model::{Checkpoint, ModelError, Qwen3VlConfig, Qwen3VlModel};
use reference_fixtures::tiny_model_dir;

fn config() -> Qwen3VlConfig {
    Qwen3VlConfig::from_json_str(&std::fs::read_to_string(tiny_model_dir().join("config.json")).unwrap()).unwrap()
}

/// The tiny checkpoint, re-serialised after `edit` changes its tensor list.
fn edited(edit: impl FnOnce(&mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>)) -> Checkpoint {
    let bytes = std::fs::read(tiny_model_dir().join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<_> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut tensors);
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let out = safetensors::serialize(views, None).unwrap();
    Checkpoint::from_buffers(vec![("edited.safetensors".into(), out)]).unwrap()
}

fn load(ckpt: &Checkpoint, config: Qwen3VlConfig) -> Result<Qwen3VlModel, ModelError> {
    Qwen3VlModel::load(ckpt, config, &Device::flex(), DType::F32)
}

#[test]
fn the_tiny_checkpoint_loads_from_both_layouts() {
    load(&Checkpoint::open_dir(&tiny_model_dir()).unwrap(), config()).unwrap();
    let sharded = reference_fixtures::tiny_sharded_model_dir();
    let c = Qwen3VlConfig::from_json_str(&std::fs::read_to_string(sharded.join("config.json")).unwrap()).unwrap();
    // The sharded fixture is untied (it was saved from an f32 model with its own LM head); the
    // embedding model never reads the head, so only that flag may differ.
    assert!(!c.tie_word_embeddings);
    let tied = Qwen3VlConfig { tie_word_embeddings: true, ..c.clone() };
    assert_eq!(tied, config(), "rope_parameters layout parses like the released one");
    load(&Checkpoint::open_dir(&sharded).unwrap(), c).unwrap();
}

#[test]
fn a_missing_tensor_is_named() {
    let name = "model.language_model.layers.1.mlp.up_proj.weight";
    let ckpt = edited(|t| t.retain(|(n, ..)| n != name));
    let err = load(&ckpt, config()).unwrap_err();
    assert!(
        matches!(&err, ModelError::MissingTensor { name: n, expected } if n == name && expected == &[128, 64]),
        "{err}"
    );
}

#[test]
fn a_misshapen_tensor_names_both_shapes() {
    let name = "model.visual.blocks.0.attn.qkv.bias";
    let ckpt = edited(|t| {
        let entry = t.iter_mut().find(|(n, ..)| n == name).unwrap();
        entry.2 = vec![48, 2];
    });
    let err = load(&ckpt, config()).unwrap_err();
    assert_eq!(err.to_string(), format!("tensor {name} has shape [48, 2], expected [96]"));
}

#[test]
fn weights_of_another_model_are_refused() {
    // A config with fewer layers than the checkpoint: the extra layer is reported.
    let mut c = config();
    c.text.num_layers = 2;
    let err = load(&Checkpoint::open_dir(&tiny_model_dir()).unwrap(), c).unwrap_err();
    assert!(
        matches!(&err, ModelError::UnexpectedTensors { names } if names.iter().all(|n| n.contains("layers.2."))),
        "{err}"
    );
}

#[test]
fn a_truncated_weight_file_is_corrupt_not_a_panic() {
    let dir = tempdir();
    let bytes = std::fs::read(tiny_model_dir().join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let err = Checkpoint::open_dir(&dir).err().expect("truncated file must fail");
    assert!(matches!(err, ModelError::CorruptWeights { .. }), "{err}");
}

#[test]
fn a_missing_weight_file_is_an_io_error_naming_it() {
    let err = Checkpoint::open_dir(&tempdir()).err().expect("empty dir must fail");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("qwen3-vl-model-test-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
