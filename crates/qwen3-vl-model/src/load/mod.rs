//! Everything between files and a loaded model: the safetensors reader, the checkpoint (one
//! name -> tensor map over its files), `config.json` parsing, and turning stored tensors into
//! the layout and precision the layers keep (transposed, bf16 or int8).

pub mod checkpoint;
pub(crate) mod config_json;
pub mod safetensors;
pub(crate) mod transient_buffers;
pub(crate) mod transpose;
pub mod weights;
