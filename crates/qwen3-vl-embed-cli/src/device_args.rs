//! `--device` and `--precision`, defined once and flattened into every command that runs a
//! model.

use qwen3_vl_embedder::{DeviceChoice, Precision, StartedDevice, start_device};

/// Where the model runs and how its weights are held.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct DeviceArgs {
    /// cpu, wgpu or auto (wgpu when an adapter exists, else cpu).
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// How the weights are held: f32, f16 (wgpu with shader-f16), bf16 (CPU, half the memory),
    /// int8 (a quarter of the memory) or q4 (about a sixth on the CPU; int8 bytes on wgpu).
    /// Default: f32, or the precision a converted model directory was written in.
    #[arg(long)]
    pub precision: Option<Precision>,
}

impl DeviceArgs {
    /// The precision to load `dir` in: `--precision`, else a converted directory's own, else f32.
    pub fn precision_for(&self, dir: &std::path::Path) -> qwen3_vl_embedder::Result<Precision> {
        match self.precision {
            Some(p) => Ok(p),
            None => Ok(qwen3_vl_embedder::model_files::read_format(dir)?.unwrap_or_default()),
        }
    }

    /// Starts the chosen device and says on stderr which one it is.
    pub fn start(&self) -> qwen3_vl_embedder::Result<StartedDevice> {
        let device = start_device(self.device)?;
        eprintln!("device: {}", device.name);
        Ok(device)
    }
}
