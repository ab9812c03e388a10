//! The one place that knows about concrete devices. Everything else takes a burn `Device`.

use std::str::FromStr;
#[cfg(not(target_family = "wasm"))]
use std::sync::OnceLock;

use burn::tensor::Device;

use crate::error::{EmbedError, Result};

/// Which burn device runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// burn's pure-Rust CPU backend (flex).
    Cpu,
    /// The wgpu backend: Vulkan, Metal, DX12 natively; WebGPU in browsers.
    Wgpu,
    /// wgpu when an adapter exists, else the CPU.
    #[default]
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "wgpu" | "webgpu" | "gpu" => Ok(Self::Wgpu),
            "auto" => Ok(Self::Auto),
            _ => Err(EmbedError::UnknownDevice(s.to_string())),
        }
    }
}

/// A started device and what it is, for logs ("wgpu" or "cpu").
#[derive(Debug, Clone)]
pub struct StartedDevice {
    /// The device to load the model onto.
    pub device: Device,
    /// `"wgpu"` or `"cpu"`.
    pub name: &'static str,
}

/// The wgpu runtime can be initialised once per process; later callers share it.
#[cfg(not(target_family = "wasm"))]
static WGPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();

#[cfg(not(target_family = "wasm"))]
fn wgpu_device() -> Result<Device> {
    WGPU.get_or_init(|| {
        // Device selection can panic inside the driver stack; keep that from taking the
        // process down and report it as a start-up error instead.
        std::panic::catch_unwind(|| Device::wgpu_options().init().map_err(|e| format!("{e:?}")))
            .unwrap_or_else(|_| Err("the wgpu runtime panicked while starting".into()))
    })
    .clone()
    .map_err(|reason| EmbedError::DeviceInit { device: "wgpu".into(), reason })
}

/// Starts the chosen device (natively; use [`start_device_async`] on wasm).
#[cfg(not(target_family = "wasm"))]
pub fn start_device(choice: DeviceChoice) -> Result<StartedDevice> {
    match choice {
        DeviceChoice::Cpu => Ok(StartedDevice { device: Device::flex(), name: "cpu" }),
        DeviceChoice::Wgpu => Ok(StartedDevice { device: wgpu_device()?, name: "wgpu" }),
        DeviceChoice::Auto => Ok(wgpu_device()
            .map(|device| StartedDevice { device, name: "wgpu" })
            .unwrap_or_else(|_| StartedDevice { device: Device::flex(), name: "cpu" })),
    }
}

#[cfg(target_family = "wasm")]
thread_local! {
    /// The WebGPU runtime starts once per wasm instance; later loads share its device.
    static WEBGPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

/// Starts the chosen device without blocking (browsers require this for WebGPU). On wasm the
/// WebGPU device is started once per instance and shared by every later call.
pub async fn start_device_async(choice: DeviceChoice) -> Result<StartedDevice> {
    #[cfg(target_family = "wasm")]
    {
        let gpu = || async {
            if let Some(device) = WEBGPU.with(|d| d.borrow().clone()) {
                return Ok::<Device, EmbedError>(device);
            }
            let device = Device::wgpu_options()
                .init_async()
                .await
                .map_err(|e| EmbedError::DeviceInit { device: "webgpu".into(), reason: format!("{e:?}") })?;
            WEBGPU.with(|d| *d.borrow_mut() = Some(device.clone()));
            Ok(device)
        };
        match choice {
            DeviceChoice::Cpu => Ok(StartedDevice { device: Device::flex(), name: "cpu" }),
            DeviceChoice::Wgpu => Ok(StartedDevice { device: gpu().await?, name: "wgpu" }),
            DeviceChoice::Auto => Ok(match gpu().await {
                Ok(device) => StartedDevice { device, name: "wgpu" },
                Err(_) => StartedDevice { device: Device::flex(), name: "cpu" },
            }),
        }
    }
    #[cfg(not(target_family = "wasm"))]
    {
        start_device(choice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_unknown_ones_are_typed_errors() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("WGPU".parse::<DeviceChoice>().unwrap(), DeviceChoice::Wgpu);
        let err = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert_eq!(err.to_string(), "unknown device \"tpu\": expected cpu, wgpu (or webgpu, gpu) or auto");
    }
}
