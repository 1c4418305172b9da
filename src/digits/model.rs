//! The two networks: the course MLP and the course CNN, as plain named Burn modules.
//!
//! Field names become tensor names on export (`conv1.weight`, `fc1.bias`, ...), and the layers
//! match PyTorch's `nn.Conv2d`/`nn.Linear`, so an equivalent PyTorch module loads the weights.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::{Device, Tensor};

use super::config::{Activation, ModelParams};
use super::idx::{PIXELS, SIDE};

/// Number of classes: the ten digits.
pub const CLASSES: usize = 10;

/// PyTorch's default negative slope for `nn.LeakyReLU`.
const LEAKY_SLOPE: f64 = 0.01;

/// A network that maps digit images to class logits.
pub trait DigitNet: Module + 'static {
    /// # Shapes
    /// `images`: `[batch, 1, 28, 28]` → logits `[batch, 10]`.
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;
}

fn activate<const D: usize>(activation: Activation, x: Tensor<D>) -> Tensor<D> {
    match activation {
        Activation::Relu => relu(x),
        Activation::LeakyRelu => leaky_relu(x, LEAKY_SLOPE),
    }
}

/// 784 → hidden → 10.
#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    pub fn new(params: &ModelParams, device: &Device) -> Mlp {
        Mlp {
            fc1: LinearConfig::new(PIXELS, params.hidden).init(device),
            fc2: LinearConfig::new(params.hidden, CLASSES).init(device),
            activation: params.activation,
        }
    }
}

impl DigitNet for Mlp {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, _, _, _] = images.dims();
        let flat = images.reshape([batch, PIXELS]);
        let hidden = activate(self.activation, self.fc1.forward(flat));
        self.fc2.forward(hidden)
    }
}

/// conv(1→c1, k) → act → pool 2 → conv(c1→c2, k) → act → pool 2 → flatten → linear → dropout
/// → linear. With the defaults (32, 64, k = 3, hidden 128) this is the course network.
#[derive(Module, Debug)]
pub struct Cnn {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub pool: MaxPool2d,
    pub fc1: Linear,
    pub dropout: Dropout,
    pub fc2: Linear,
    #[module(skip)]
    pub activation: Activation,
}

/// Side length after the two valid convolutions and 2x2 pools.
pub fn cnn_feature_side(kernel_size: usize) -> usize {
    ((SIDE - kernel_size + 1) / 2 - kernel_size + 1) / 2
}

impl Cnn {
    pub fn new(params: &ModelParams, device: &Device) -> Cnn {
        let k = params.kernel_size;
        let side = cnn_feature_side(k);
        let flat = params.conv2_channels * side * side;
        Cnn {
            conv1: Conv2dConfig::new([1, params.conv1_channels], [k, k]).init(device),
            conv2: Conv2dConfig::new([params.conv1_channels, params.conv2_channels], [k, k])
                .init(device),
            // Burn's pool stride defaults to the kernel size, as PyTorch's does.
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(flat, params.hidden).init(device),
            dropout: DropoutConfig::new(params.dropout).init(),
            fc2: LinearConfig::new(params.hidden, CLASSES).init(device),
            activation: params.activation,
        }
    }
}

impl DigitNet for Cnn {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self
            .pool
            .forward(activate(self.activation, self.conv1.forward(images)));
        let x = self
            .pool
            .forward(activate(self.activation, self.conv2.forward(x)));
        // Flattening [batch, channels, h, w] in this order matches torch.flatten(x, 1).
        let x: Tensor<2> = x.flatten(1, 3);
        let x = activate(self.activation, self.fc1.forward(x));
        self.fc2.forward(self.dropout.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digits::config::ModelKind;

    fn params(kind: ModelKind) -> ModelParams {
        ModelParams {
            kind,
            hidden: 128,
            activation: Activation::Relu,
            dropout: 0.5,
            conv1_channels: 32,
            conv2_channels: 64,
            kernel_size: 3,
        }
    }

    #[test]
    fn course_cnn_flattens_1600() {
        assert_eq!(64 * cnn_feature_side(3) * cnn_feature_side(3), 1600);
    }

    #[test]
    fn both_nets_output_ten_logits() {
        let device = crate::backend::BackendChoice::new("flex", 0, crate::config::Precision::F32)
            .unwrap()
            .device(0)
            .unwrap();
        let images = Tensor::<4>::zeros([3, 1, 28, 28], &device);
        let mlp = Mlp::new(&params(ModelKind::Mlp), &device);
        assert_eq!(mlp.forward(images.clone()).dims(), [3, 10]);
        let cnn = Cnn::new(&params(ModelKind::Cnn), &device);
        assert_eq!(cnn.forward(images).dims(), [3, 10]);
        assert_eq!(cnn.num_params(), 320 + 18496 + 204928 + 1290);
    }
}
