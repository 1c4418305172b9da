//! Throughput benchmark, not a test: trainlab (flex backend) against PyTorch on the CPU, for
//! the course MLP and CNN at batch 32 and 256, training and inference, in one run.
//!
//! Run: `TRAINLAB_BENCH=1 cargo test --release --test digits_bench -- --ignored --nocapture`.
//! It prints a Markdown table. PyTorch columns need `python3 -c "import torch"` to work, else
//! they read "n/a". Results are recorded in docs/bench-digits.md. Without `TRAINLAB_BENCH` the
//! function returns at once, so CI's `--include-ignored` run spends no time on it.

use std::process::Command;
use std::time::{Duration, Instant};

use burn::optim::GradientsParams;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use trainlab::backend::BackendChoice;
use trainlab::config::Precision;
use trainlab::digits::config::{
    Activation, ModelKind, ModelParams, OptimizerKind, Schedule, TrainParams,
};
use trainlab::digits::data::{DigitBatch, images_batch};
use trainlab::digits::model::{Cnn, DigitNet, Mlp};
use trainlab::digits::synthetic;
use trainlab::digits::train::{build_optimizer, cross_entropy};

/// How long each measurement runs after its warm-up steps.
const MEASURE: Duration = Duration::from_secs(3);

fn model_params(kind: ModelKind) -> ModelParams {
    ModelParams {
        kind,
        hidden: 128,
        activation: match kind {
            ModelKind::Mlp => Activation::LeakyRelu,
            ModelKind::Cnn => Activation::Relu,
        },
        dropout: 0.5,
        conv1_channels: 32,
        conv2_channels: 64,
        kernel_size: 3,
    }
}

fn train_params(kind: ModelKind) -> TrainParams {
    TrainParams {
        epochs: 1,
        batch_size: 32,
        optimizer: OptimizerKind::Sgd,
        learning_rate: if kind == ModelKind::Mlp { 0.1 } else { 0.01 },
        momentum: if kind == ModelKind::Mlp { 0.0 } else { 0.9 },
        nesterov: kind == ModelKind::Cnn,
        weight_decay: 0.0,
        schedule: Schedule::Constant,
        step_size: 1,
        gamma: 0.1,
        patience: 0,
    }
}

fn batches(batch: usize, device: &Device) -> Vec<DigitBatch> {
    let (images, labels) = synthetic::generate(2048, 0);
    let values: Vec<f32> = images.pixels.iter().map(|&p| p as f32 / 255.0).collect();
    values
        .chunks(batch * 784)
        .zip(labels.chunks(batch))
        .filter(|(_, l)| l.len() == batch)
        .map(|(v, l)| images_batch(v.to_vec(), l.to_vec(), device))
        .collect()
}

/// Training images per second, with per-phase seconds (forward, backward, optimizer step).
fn train_rate<M: DigitNet>(mut model: M, kind: ModelKind, data: &[DigitBatch]) -> (f64, [f64; 3]) {
    let mut optimizer = build_optimizer(&train_params(kind));
    let (mut images, mut phases) = (0usize, [0.0f64; 3]);
    let mut started = Instant::now();
    for (step, batch) in data.iter().cycle().enumerate() {
        if step == 3 {
            (images, phases, started) = (0, [0.0; 3], Instant::now());
        }
        if step > 3 && started.elapsed() > MEASURE {
            break;
        }
        let t0 = Instant::now();
        let loss = cross_entropy(model.forward(batch.images.clone()), batch.targets.clone());
        let loss = loss.mean();
        let _ = loss.clone().into_scalar::<f32>();
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t2 = Instant::now();
        model = optimizer.step(0.01, model, grads);
        // Reading one weight waits for the update on backends that run asynchronously.
        let _ = model.clone().into_record();
        let t3 = Instant::now();
        phases[0] += (t1 - t0).as_secs_f64();
        phases[1] += (t2 - t1).as_secs_f64();
        phases[2] += (t3 - t2).as_secs_f64();
        images += batch.labels.len();
    }
    (images as f64 / started.elapsed().as_secs_f64(), phases)
}

/// Inference images per second in eval mode, reading the predicted classes back.
fn infer_rate<M: DigitNet>(model: M, data: &[DigitBatch]) -> f64 {
    let mut images = 0usize;
    let mut started = Instant::now();
    for (step, batch) in data.iter().cycle().enumerate() {
        if step == 3 {
            (images, started) = (0, Instant::now());
        }
        if step > 3 && started.elapsed() > MEASURE {
            break;
        }
        let classes = model.forward(batch.images.clone()).argmax(1).into_data();
        images += classes.num_elements();
    }
    images as f64 / started.elapsed().as_secs_f64()
}

fn trainlab_rates(kind: ModelKind, batch: usize) -> (f64, f64, [f64; 3]) {
    let device = BackendChoice::new("flex", 0, Precision::F32)
        .unwrap()
        .device(0)
        .unwrap();
    let autodiff = device.clone().autodiff();
    let params = model_params(kind);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (train_data, infer_data) = (batches(batch, &autodiff), batches(batch, &device));
    match kind {
        ModelKind::Mlp => {
            let (train, phases) =
                train_rate(Mlp::new(&params, &mut rng, &autodiff), kind, &train_data);
            let infer = infer_rate(Mlp::new(&params, &mut rng, &device), &infer_data);
            (train, infer, phases)
        }
        ModelKind::Cnn => {
            let (train, phases) =
                train_rate(Cnn::new(&params, &mut rng, &autodiff), kind, &train_data);
            let infer = infer_rate(Cnn::new(&params, &mut rng, &device), &infer_data);
            (train, infer, phases)
        }
    }
}

/// The PyTorch side: the same two networks, optimizer and batch sizes, timed the same way.
const TORCH_SCRIPT: &str = r#"
import json, sys, time
import torch
import torch.nn as nn

kind, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
torch.set_num_threads(threads)

class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)
    def forward(self, x):
        return self.fc2(nn.functional.leaky_relu(self.fc1(torch.flatten(x, 1))))

class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(1600, 128)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)
    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(self.dropout(x))

model = Mlp() if kind == "mlp" else Cnn()
if kind == "mlp":
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
else:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
batches = [(torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))) for _ in range(2048 // batch)]
loss_fn = nn.CrossEntropyLoss()

def measure(step):
    images, start, i = 0, None, 0
    while True:
        if i == 3:
            images, start = 0, time.perf_counter()
        if i > 3 and time.perf_counter() - start > 3.0:
            return images / (time.perf_counter() - start)
        x, y = batches[i % len(batches)]
        step(x, y)
        images += batch
        i += 1

def train_step(x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    loss.item()

model.train()
train = measure(train_step)
model.eval()
with torch.no_grad():
    infer = measure(lambda x, y: model(x).argmax(1).tolist())
print(json.dumps({"train": train, "infer": infer, "torch": torch.__version__,
                  "threads": torch.get_num_threads()}))
"#;

/// PyTorch rates with `threads` intra-op threads.
fn torch_run(kind: &str, batch: usize, threads: usize) -> Option<(f64, f64, String)> {
    let output = Command::new("python3")
        .args([
            "-c",
            TORCH_SCRIPT,
            kind,
            &batch.to_string(),
            &threads.to_string(),
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "PyTorch run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let version = value["torch"].as_str().unwrap_or("unknown").to_string();
    Some((value["train"].as_f64()?, value["infer"].as_f64()?, version))
}

/// Returns the better of PyTorch with 1 and with 2 threads, per measure. On a loaded 2-core
/// machine its OpenMP threads can wait on each other, so 1 thread is sometimes faster.
fn torch_rates(kind: &str, batch: usize) -> Option<(f64, f64, String)> {
    let one = torch_run(kind, batch, 1)?;
    let two = torch_run(kind, batch, 2)?;
    Some((one.0.max(two.0), one.1.max(two.1), one.2))
}

fn ratio(ours: f64, theirs: Option<f64>) -> String {
    theirs.map_or("n/a".into(), |t| format!("{:.2}", ours / t))
}

fn rate(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.0}"))
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture; prints figures, asserts nothing"]
fn bench_digits_throughput() {
    if std::env::var_os("TRAINLAB_BENCH").is_none() {
        eprintln!("benchmark skipped: set TRAINLAB_BENCH=1 to run it");
        return;
    }
    println!(
        "| model | batch | trainlab train | PyTorch train | ratio | trainlab infer | PyTorch infer | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut profile = Vec::new();
    let mut version = String::from("not available");
    for (kind, name) in [(ModelKind::Mlp, "mlp"), (ModelKind::Cnn, "cnn")] {
        for batch in [32, 256] {
            let (train, infer, phases) = trainlab_rates(kind, batch);
            let torch = torch_rates(name, batch);
            if let Some((_, _, v)) = &torch {
                version = v.clone();
            }
            let (torch_train, torch_infer) =
                (torch.as_ref().map(|t| t.0), torch.as_ref().map(|t| t.1));
            println!(
                "| {name} | {batch} | {train:.0} | {} | {} | {infer:.0} | {} | {} |",
                rate(torch_train),
                ratio(train, torch_train),
                rate(torch_infer),
                ratio(infer, torch_infer)
            );
            let total: f64 = phases.iter().sum();
            profile.push(format!(
                "{name} b{batch}: forward {:.0}%, backward {:.0}%, optimizer step {:.0}%",
                100.0 * phases[0] / total,
                100.0 * phases[1] / total,
                100.0 * phases[2] / total
            ));
        }
    }
    println!("\nPyTorch {version}, best of 1 and 2 threads\ntrainlab training time by phase:");
    for line in profile {
        println!("- {line}");
    }
}
