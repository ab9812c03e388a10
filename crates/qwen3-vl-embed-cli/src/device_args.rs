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
    /// int8 (a quarter of the memory) or q4 (CPU, about a sixth).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

impl DeviceArgs {
    /// Starts the chosen device and says on stderr which one it is.
    pub fn start(&self) -> qwen3_vl_embedder::Result<StartedDevice> {
        let device = start_device(self.device)?;
        eprintln!("device: {}", device.name);
        Ok(device)
    }
}
