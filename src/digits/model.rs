//! The two networks: the course MLP and the course CNN, as plain named Burn modules.
//!
//! Field names become tensor names on export (`conv1.weight`, `fc1.bias`, ...), and the layers
//! match PyTorch's `nn.Conv2d`/`nn.Linear`, so an equivalent PyTorch module loads the weights.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

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

/// Values drawn from U(-b, b) with b = 1/sqrt(fan_in), PyTorch's default for the weights and
/// biases of `nn.Linear` and `nn.Conv2d`. Drawing them on the host from the run's RNG gives
/// every backend the same initial weights for the same seed.
fn uniform<const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Param<Tensor<D>> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let count = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|_| rng.random_range(-bound..bound))
        .collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// Builds a Linear layer with PyTorch's default initialization. Burn stores the weight
/// `[in, out]`.
fn linear(inputs: usize, outputs: usize, rng: &mut ChaCha8Rng, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(inputs, outputs).init(device);
    layer.weight = uniform([inputs, outputs], inputs, rng, device);
    layer.bias = Some(uniform([outputs], inputs, rng, device));
    layer
}

/// Builds a valid (unpadded) square convolution with PyTorch's default initialization.
fn conv(channels: [usize; 2], kernel: usize, rng: &mut ChaCha8Rng, device: &Device) -> Conv2d {
    let mut layer = Conv2dConfig::new(channels, [kernel, kernel]).init(device);
    let fan_in = channels[0] * kernel * kernel;
    layer.weight = uniform(
        [channels[1], channels[0], kernel, kernel],
        fan_in,
        rng,
        device,
    );
    layer.bias = Some(uniform([channels[1]], fan_in, rng, device));
    layer
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
    pub fn new(params: &ModelParams, rng: &mut ChaCha8Rng, device: &Device) -> Mlp {
        Mlp {
            fc1: linear(PIXELS, params.hidden, rng, device),
            fc2: linear(params.hidden, CLASSES, rng, device),
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
    // Pools floor odd sizes, as PyTorch's MaxPool2d does by default.
    let convolved = SIDE - kernel_size + 1;
    let pooled = convolved / 2;
    (pooled - (kernel_size - 1)) / 2
}

impl Cnn {
    pub fn new(params: &ModelParams, rng: &mut ChaCha8Rng, device: &Device) -> Cnn {
        let k = params.kernel_size;
        let side = cnn_feature_side(k);
        let flat = params.conv2_channels * side * side;
        let (c1, c2) = (params.conv1_channels, params.conv2_channels);
        Cnn {
            conv1: conv([1, c1], k, rng, device),
            conv2: conv([c1, c2], k, rng, device),
            // Burn's pool stride defaults to the kernel size, as PyTorch's does.
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: linear(flat, params.hidden, rng, device),
            dropout: DropoutConfig::new(params.dropout).init(),
            fc2: linear(params.hidden, CLASSES, rng, device),
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
        let mut rng = rand::SeedableRng::seed_from_u64(0);
        let mlp = Mlp::new(&params(ModelKind::Mlp), &mut rng, &device);
        assert_eq!(mlp.forward(images.clone()).dims(), [3, 10]);
        let cnn = Cnn::new(&params(ModelKind::Cnn), &mut rng, &device);
        assert_eq!(cnn.forward(images).dims(), [3, 10]);
        assert_eq!(cnn.num_params(), 320 + 18496 + 204928 + 1290);
    }
}
