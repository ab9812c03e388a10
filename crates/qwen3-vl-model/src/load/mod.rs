//! Everything between files and a loaded model: the safetensors reader, the checkpoint (one
//! name -> tensor map over its files), `config.json` parsing, and turning stored tensors into
//! the layout and precision the layers keep (transposed, bf16, int8 or q4), and the
//! packed forms a converted checkpoint stores them in (portable, or the CPU kernels' own).

pub mod checkpoint;
pub(crate) mod config_json;
pub mod cpu_layout;
pub(crate) mod device_quant;
pub mod packed_store;
pub mod safetensors;
pub mod safetensors_write;
pub(crate) mod transient_buffers;
pub(crate) mod transpose;
pub mod weights;
