//! Run-time backend selection among the Burn backends compiled into this binary.
//!
//! Burn 0.22 picks the backend from the `Device` value. trainlab always builds that value
//! from the config's `backend.name`, never from `Device::default()`, because with `wgpu`
//! compiled in the default device silently becomes the GPU.

use burn::tensor::{Device, FloatDType};

use crate::config::Precision;
use crate::error::input_error;

/// A backend trainlab knows about, compiled in or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Flex,
    Ndarray,
    Wgpu,
    Cuda,
}

impl BackendKind {
    pub const ALL: [BackendKind; 4] = [
        BackendKind::Flex,
        BackendKind::Ndarray,
        BackendKind::Wgpu,
        BackendKind::Cuda,
    ];

    /// The config name, which is also the cargo feature that compiles it in.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Flex => cfg!(feature = "flex"),
            BackendKind::Ndarray => cfg!(feature = "ndarray"),
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            BackendKind::Flex => "Burn's pure-Rust CPU backend (recommended on CPU)",
            BackendKind::Ndarray => "Burn's older CPU backend (deprecated upstream in Burn 0.22)",
            BackendKind::Wgpu => "GPU through Vulkan, Metal or DX12",
            BackendKind::Cuda => "NVIDIA GPU through CUDA, loaded at run time",
        }
    }

    /// Why a precision cannot run correctly on this backend, or `None` when it can.
    pub fn precision_problem(self, precision: Precision) -> Option<&'static str> {
        match (self, precision) {
            (BackendKind::Wgpu, Precision::F64) => Some(
                "wgpu has no reliable f64: many GPUs lack it, and on Mesa's lavapipe f64 exp and \
                 log return wrong values; use precision = \"f32\", or backend flex or cuda for f64",
            ),
            _ => None,
        }
    }

    pub fn precisions(self) -> Vec<Precision> {
        [Precision::F32, Precision::F64]
            .into_iter()
            .filter(|p| self.precision_problem(*p).is_none())
            .collect()
    }

    pub fn parse(name: &str) -> Option<BackendKind> {
        BackendKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

/// The names of the backends compiled into this binary.
pub fn compiled_backends() -> Vec<&'static str> {
    BackendKind::ALL
        .into_iter()
        .filter(|k| k.is_compiled())
        .map(BackendKind::name)
        .collect()
}

/// A checked backend choice: compiled in and able to run the requested precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendChoice {
    pub kind: BackendKind,
    pub device_index: usize,
    pub precision: Precision,
}

impl BackendChoice {
    /// Checks a backend name and precision before any work starts.
    pub fn new(name: &str, device_index: usize, precision: Precision) -> anyhow::Result<Self> {
        let compiled = compiled_backends().join(", ");
        let Some(kind) = BackendKind::parse(name) else {
            return Err(input_error(format!(
                "unknown backend '{name}'; backends compiled into this binary: {compiled}"
            )));
        };
        if !kind.is_compiled() {
            return Err(input_error(format!(
                "backend '{name}' is not compiled into this binary (compiled: {compiled}); \
                 rebuild with `cargo build --release --features {name}`"
            )));
        }
        if let Some(reason) = kind.precision_problem(precision) {
            return Err(input_error(format!(
                "backend '{name}' cannot run precision {}: {reason}",
                precision.as_str()
            )));
        }
        Ok(BackendChoice {
            kind,
            device_index,
            precision,
        })
    }

    /// Builds the device, sets its default float type and seeds its random generator.
    pub fn device(&self, seed: u64) -> anyhow::Result<Device> {
        let mut device = base_device(self.kind, self.device_index);
        let dtype = match self.precision {
            Precision::F32 => FloatDType::F32,
            Precision::F64 => FloatDType::F64,
        };
        // Settings can be set once per device per process; a second run in the same process
        // (a sweep, a test) finds them already set, which is fine when they match.
        if device.configure(dtype).is_err() && device.settings().float_dtype != dtype {
            anyhow::bail!(
                "the {} device was already set up with {:?} in this process and cannot switch to \
                 {}; run each precision in its own process",
                self.kind.name(),
                device.settings().float_dtype,
                self.precision.as_str()
            );
        }
        device.seed(seed);
        Ok(device)
    }
}

#[allow(deprecated, unused_variables)]
fn base_device(kind: BackendKind, index: usize) -> Device {
    match kind {
        #[cfg(feature = "flex")]
        BackendKind::Flex => Device::flex(),
        // NOTE: burn-ndarray is deprecated in Burn 0.22 and removed in 0.23; it stays here as a
        // second CPU implementation to cross-check results.
        #[cfg(feature = "ndarray")]
        BackendKind::Ndarray => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => {
            use burn::tensor::DeviceKind;
            // Index 0 lets wgpu pick the best adapter; N selects the N-th discrete GPU.
            if index == 0 {
                Device::wgpu(DeviceKind::DefaultDevice)
            } else {
                Device::wgpu(DeviceKind::DiscreteGpu(index))
            }
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => Device::cuda(index),
        #[allow(unreachable_patterns)]
        other => unreachable!("BackendChoice::new only accepts compiled backends, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_is_compiled_by_default() {
        assert!(compiled_backends().contains(&"flex"));
    }

    #[test]
    fn missing_backend_lists_compiled() {
        if BackendKind::Wgpu.is_compiled() {
            return;
        }
        let err = BackendChoice::new("wgpu", 0, Precision::F32)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not compiled"), "{err}");
        assert!(err.contains("flex"), "{err}");
        assert!(err.contains("--features wgpu"), "{err}");
    }

    #[test]
    fn wgpu_rejects_f64() {
        assert!(
            BackendKind::Wgpu
                .precision_problem(Precision::F64)
                .is_some()
        );
        assert!(
            BackendKind::Flex
                .precision_problem(Precision::F64)
                .is_none()
        );
    }
}
