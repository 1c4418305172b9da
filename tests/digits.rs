//! End-to-end tests of the digits family on synthetic digits and small crafted IDX files:
//! training output, export read back without Burn, predict, evaluate, resume after kill -9,
//! input errors and divergence.

mod common_digits;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common_digits::*;
use safetensors::SafeTensors;
use trainlab::digits::synthetic;

/// A small synthetic CNN configuration: 2,000 digits, two epochs.
const SMALL_CNN: &str = r#"
[data]
source = "synthetic"
synthetic_train = 2000
synthetic_test = 200

[model]
kind = "cnn"

[train]
epochs = 2
learning_rate = 0.01
momentum = 0.9
nesterov = true
"#;

/// Trains one CNN run, once, for the tests that only read it.
fn trained_cnn() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = tempfile::tempdir().unwrap().keep();
        let config = write_config(&root, "cnn.toml", SMALL_CNN);
        let run = root.join("run");
        let output = trainlab(&[
            "train",
            config.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", text(&output));
        run
    })
}

#[test]
fn training_writes_outputs() {
    let run = trained_cnn();
    for file in [
        "metrics.csv",
        "model.safetensors",
        "model.bpk",
        "model.json",
        "learning-curves.svg",
        "accuracy.svg",
        "confusion.svg",
        "checkpoints/last.json",
        "checkpoints/best.json",
        "checkpoints/epoch-002/optimizer.bpk",
    ] {
        assert!(run.join(file).is_file(), "missing {file}");
    }
    let summary = summary(run);
    assert_eq!(summary["status"], "completed");
    for key in [
        "test_accuracy",
        "test_loss",
        "dev_accuracy",
        "train_images_per_second",
    ] {
        assert!(summary["metrics"][key].is_number(), "summary lacks {key}");
    }
    let rows = metrics_rows(run);
    assert_eq!(rows.len(), 2);
    // 1,800 training digits after the 10% dev split, in batches of 32 with a last partial
    // batch of 8: per-sample counting makes the accuracy a multiple of 1/1800.
    let accuracy: f64 = rows[1][3].parse().unwrap();
    let correct = accuracy * 1800.0;
    assert!(
        (correct - correct.round()).abs() < 1e-6,
        "{accuracy} is not k/1800"
    );
}

/// Reads an f32 tensor and its shape from a safetensors file, without Burn.
fn tensor(file: &SafeTensors, name: &str) -> (Vec<f32>, Vec<usize>) {
    let view = file
        .tensor(name)
        .unwrap_or_else(|_| panic!("no tensor {name}"));
    assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
    let values = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (values, view.shape().to_vec())
}

/// Computes a valid 2-D convolution plus ReLU in PyTorch layout: input `[cin, h, w]`,
/// weight `[cout, cin, k, k]`.
fn conv(input: &[f32], side: usize, weight: &(Vec<f32>, Vec<usize>), bias: &[f32]) -> Vec<f32> {
    let (cout, cin, k) = (weight.1[0], weight.1[1], weight.1[2]);
    let out_side = side - k + 1;
    let mut out = vec![0.0; cout * out_side * out_side];
    for o in 0..cout {
        for y in 0..out_side {
            for x in 0..out_side {
                let mut sum = bias[o];
                for c in 0..cin {
                    for dy in 0..k {
                        for dx in 0..k {
                            let w = weight.0[((o * cin + c) * k + dy) * k + dx];
                            sum += w * input[(c * side + y + dy) * side + x + dx];
                        }
                    }
                }
                out[(o * out_side + y) * out_side + x] = sum.max(0.0);
            }
        }
    }
    out
}

/// 2x2 max pooling with stride 2 over `[channels, side, side]`.
fn pool(input: &[f32], channels: usize, side: usize) -> Vec<f32> {
    let half = side / 2;
    let mut out = vec![f32::MIN; channels * half * half];
    for c in 0..channels {
        for y in 0..half * 2 {
            for x in 0..half * 2 {
                let cell = &mut out[(c * half + y / 2) * half + x / 2];
                *cell = cell.max(input[(c * side + y) * side + x]);
            }
        }
    }
    out
}

/// `y = W x + b` with a PyTorch `[out, in]` weight, optionally followed by ReLU.
fn dense(input: &[f32], weight: &(Vec<f32>, Vec<usize>), bias: &[f32], relu: bool) -> Vec<f32> {
    let (outputs, inputs) = (weight.1[0], weight.1[1]);
    assert_eq!(inputs, input.len());
    (0..outputs)
        .map(|o| {
            let row = &weight.0[o * inputs..(o + 1) * inputs];
            let sum: f32 = row.iter().zip(input).map(|(w, x)| w * x).sum::<f32>() + bias[o];
            if relu { sum.max(0.0) } else { sum }
        })
        .collect()
}

/// Runs the course CNN's forward pass from the exported file and returns probabilities.
fn cnn_probabilities(file: &SafeTensors, pixels: &[u8]) -> Vec<f32> {
    let input: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    let x = conv(
        &input,
        28,
        &tensor(file, "conv1.weight"),
        &tensor(file, "conv1.bias").0,
    );
    let x = pool(&x, 32, 26);
    let x = conv(
        &x,
        13,
        &tensor(file, "conv2.weight"),
        &tensor(file, "conv2.bias").0,
    );
    let x = pool(&x, 64, 11);
    let x = dense(
        &x,
        &tensor(file, "fc1.weight"),
        &tensor(file, "fc1.bias").0,
        true,
    );
    let logits = dense(
        &x,
        &tensor(file, "fc2.weight"),
        &tensor(file, "fc2.bias").0,
        false,
    );
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// Parses `predict` output lines: `name<TAB>digit<TAB>probability`.
fn predictions(stdout: &[u8]) -> Vec<(usize, f32)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields[1].parse().unwrap(), fields[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn safetensors_matches_predict() {
    let run = trained_cnn();
    let bytes = std::fs::read(run.join("model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        tensor(&file, "fc1.weight").1,
        vec![128, 1600],
        "PyTorch [out, in] layout"
    );
    let (images, _) = synthetic::generate(20, 99);
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("images.idx");
    std::fs::write(&idx, idx_images(&images.pixels)).unwrap();
    let output = trainlab(&["predict", run.to_str().unwrap(), idx.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let predicted = predictions(&output.stdout);
    assert_eq!(predicted.len(), 20);
    for (index, (digit, probability)) in predicted.iter().enumerate() {
        let probs = cnn_probabilities(&file, images.image(index));
        let best = (0..10)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap();
        assert_eq!(best, *digit, "image {index}");
        assert!((probs[best] - probability).abs() < 1e-3, "image {index}");
    }
}

#[test]
fn predict_reads_png_pgm_and_inverts() {
    let run = trained_cnn();
    let (images, _) = synthetic::generate(1, 5);
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("one.idx");
    std::fs::write(&idx, idx_images(&images.pixels)).unwrap();
    let plain = image::GrayImage::from_raw(28, 28, images.pixels.clone()).unwrap();
    let pgm = dir.path().join("digit.pgm");
    plain.save(&pgm).unwrap();
    let inverted: Vec<u8> = images.pixels.iter().map(|p| 255 - p).collect();
    let png = dir.path().join("scan.png");
    image::GrayImage::from_raw(28, 28, inverted)
        .unwrap()
        .save(&png)
        .unwrap();
    let run = run.to_str().unwrap();
    let reference = trainlab(&["predict", run, idx.to_str().unwrap()]);
    let from_pgm = trainlab(&["predict", run, pgm.to_str().unwrap()]);
    let from_png = trainlab(&["predict", run, "--invert", png.to_str().unwrap()]);
    for output in [&reference, &from_pgm, &from_png] {
        assert!(output.status.success(), "{}", text(output));
    }
    let expected = predictions(&reference.stdout)[0];
    assert_eq!(predictions(&from_pgm.stdout)[0].0, expected.0);
    assert_eq!(predictions(&from_png.stdout)[0].0, expected.0);
    assert!((predictions(&from_png.stdout)[0].1 - expected.1).abs() < 1e-4);
}

#[test]
fn predict_rejects_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "not an image").unwrap();
    let output = trainlab(&[
        "predict",
        trained_cnn().to_str().unwrap(),
        note.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("note.txt"));
}

#[test]
fn evaluate_rescores_other_files() {
    let run = trained_cnn();
    let (images, labels) = synthetic::generate(300, 1234);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.gz"), gzip(&idx_images(&images.pixels))).unwrap();
    std::fs::write(dir.path().join("y"), idx_labels(&labels)).unwrap();
    let data_dir = format!("data.dir={}", dir.path().display());
    let output = trainlab(&[
        "evaluate",
        run.to_str().unwrap(),
        "--set",
        "data.source=idx",
        "--set",
        &data_dir,
        "--set",
        "data.test_images=x.gz",
        "--set",
        "data.test_labels=y",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("test_accuracy"))
        .unwrap();
    let accuracy: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(accuracy > 0.6, "{stdout}");
    assert!(
        stdout.contains("test_items") && stdout.contains("300"),
        "{stdout}"
    );
}

/// Writes a config whose training files are the given IDX bytes and runs it.
fn train_on_files(images: &[u8], labels: &[u8]) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images"), images).unwrap();
    std::fs::write(dir.path().join("labels"), labels).unwrap();
    let body = format!(
        "[data]\nsource = \"idx\"\ndir = \"{}\"\ntrain_images = \"images\"\n\
         train_labels = \"labels\"\ntest_images = \"images\"\ntest_labels = \"labels\"\n\
         [model]\nkind = \"mlp\"\n[train]\nepochs = 1\n",
        dir.path().display()
    );
    let config = write_config(dir.path(), "bad.toml", &body);
    let run = dir.path().join("run");
    let output = trainlab(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    (dir, output)
}

fn assert_rejected(output: &std::process::Output, run: &Path, needles: &[&str]) {
    assert_eq!(output.status.code(), Some(2), "{}", text(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in needles {
        assert!(stderr.contains(needle), "missing '{needle}' in {stderr}");
    }
    assert_ne!(summary(run)["status"], "completed");
    assert!(!run.join("model.safetensors").exists());
    assert!(!run.join("metrics.csv").exists(), "training started");
}

#[test]
fn label_ten_and_255_rejected() {
    let (images, mut labels) = synthetic::generate(40, 2);
    for bad in [10u8, 255] {
        labels[17] = bad;
        let (dir, output) = train_on_files(&idx_images(&images.pixels), &idx_labels(&labels));
        let needle = format!("label {bad} at index 17");
        assert_rejected(&output, &dir.path().join("run"), &[&needle, "labels"]);
    }
}

#[test]
fn wrong_magic_rejected() {
    let (images, labels) = synthetic::generate(40, 2);
    let mut bytes = idx_images(&images.pixels);
    bytes[3] = 4;
    let (dir, output) = train_on_files(&bytes, &idx_labels(&labels));
    assert_rejected(
        &output,
        &dir.path().join("run"),
        &["wrong magic number 2052", "images"],
    );
}

#[test]
fn truncated_gzip_rejected() {
    let (images, labels) = synthetic::generate(40, 2);
    let full = gzip(&idx_images(&images.pixels));
    let truncated = &full[..full.len() / 2];
    let (dir, output) = train_on_files(truncated, &idx_labels(&labels));
    assert_rejected(
        &output,
        &dir.path().join("run"),
        &["gzip stream is truncated", "images"],
    );
}

#[test]
fn image_label_count_mismatch_rejected() {
    let (images, labels) = synthetic::generate(40, 2);
    let (dir, output) = train_on_files(&idx_images(&images.pixels), &idx_labels(&labels[..39]));
    assert_rejected(
        &output,
        &dir.path().join("run"),
        &["40 images", "39 labels"],
    );
}

#[test]
fn huge_learning_rate_stops_training() {
    let dir = tempfile::tempdir().unwrap();
    // Raw 0-255 pixels make learning rate 10 overflow within a few steps on synthetic
    // digits. The real-data tests check the course MLP at the same rate on MNIST.
    let body = "[data]\nsource = \"synthetic\"\nsynthetic_train = 600\nnormalize = \"none\"\n\
                [model]\nkind = \"mlp\"\nactivation = \"leaky-relu\"\n\
                [train]\nepochs = 2\nlearning_rate = 10.0\n";
    let config = write_config(dir.path(), "mlp.toml", body);
    let run = dir.path().join("run");
    let output = trainlab(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("training diverged"), "{stderr}");
    assert!(stderr.contains("at step"), "{stderr}");
    assert!(stderr.contains("lower train.learning_rate"), "{stderr}");
    assert_eq!(summary(&run)["status"], "failed");
    assert!(!run.join("model.safetensors").exists());
}

/// Four CNN epochs on synthetic digits, slow enough to kill in the middle of an epoch.
const RESUMABLE: &str = r#"
[experiment]
seed = 7

[data]
source = "synthetic"
synthetic_train = 2400
synthetic_test = 200

[model]
kind = "cnn"

[train]
epochs = 4
learning_rate = 0.01
momentum = 0.9
nesterov = true
"#;

fn wait_for_rows(run: &Path, rows: usize, limit: Duration) -> Instant {
    let started = Instant::now();
    while started.elapsed() < limit {
        if run.join("metrics.csv").is_file() && metrics_rows(run).len() >= rows {
            return Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} rows did not appear in {}", rows, run.display());
}

/// Returns every column of metrics.csv except the timing ones.
fn deterministic_columns(run: &Path) -> Vec<Vec<String>> {
    metrics_rows(run)
        .into_iter()
        .map(|row| [&row[..6], &row[8..]].concat())
        .collect()
}

#[test]
fn resume_after_kill_matches_uninterrupted() {
    let dir = tempfile::tempdir().unwrap();
    // RESUMABLE has its own [experiment] table, so write the file whole.
    let config = dir.path().join("resume.toml");
    std::fs::write(
        &config,
        RESUMABLE.replace("seed = 7", "task = \"digits\"\nseed = 7"),
    )
    .unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let output = trainlab(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));

    let mut child = bin()
        .args([
            "train",
            config.to_str().unwrap(),
            "--out",
            killed.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let first = wait_for_rows(&killed, 1, Duration::from_secs(120));
    let second = wait_for_rows(&killed, 2, Duration::from_secs(120));
    // Kill about 40% into epoch 3.
    std::thread::sleep(second.duration_since(first).mul_f64(0.4));
    child.kill().unwrap(); // SIGKILL on Unix: no handler runs.
    child.wait().unwrap();
    assert_eq!(
        metrics_rows(&killed).len(),
        2,
        "the kill did not land in epoch 3"
    );

    let output = trainlab(&["train", "--resume", killed.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        deterministic_columns(&killed),
        deterministic_columns(&whole)
    );
    for key in ["test_accuracy", "test_loss", "dev_accuracy"] {
        assert_eq!(metric(&killed, key), metric(&whole, key), "{key}");
    }
    // Compare tensors, not file bytes: burn-store writes its metadata map in hash order.
    let (killed_bytes, whole_bytes) = (
        std::fs::read(killed.join("model.safetensors")).unwrap(),
        std::fs::read(whole.join("model.safetensors")).unwrap(),
    );
    let killed_file = SafeTensors::deserialize(&killed_bytes).unwrap();
    let whole_file = SafeTensors::deserialize(&whole_bytes).unwrap();
    let mut names = whole_file.names();
    names.sort();
    assert_eq!(names.len(), 8);
    for name in names {
        assert_eq!(
            tensor(&killed_file, name),
            tensor(&whole_file, name),
            "{name}"
        );
    }
}

/// Serves files from memory over HTTP on 127.0.0.1 for `requests` requests.
fn serve(files: Vec<(String, Vec<u8>)>, requests: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let read = stream.read(&mut chunk).unwrap();
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&chunk[..read]);
            }
            let line = String::from_utf8_lossy(&request).to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let found = files.iter().find(|(name, _)| path.ends_with(name.as_str()));
            let (status, body) = match found {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    port
}

#[test]
fn mnist_source_downloads_from_mirror() {
    // Blank digits with MNIST's item counts: the download check parses the files.
    let blank = |count: usize| gzip(&idx_images(&vec![0u8; count * 784]));
    let labels = |count: usize| gzip(&idx_labels(&vec![3u8; count]));
    let files = vec![
        ("train-images-idx3-ubyte.gz".to_string(), blank(60_000)),
        ("train-labels-idx1-ubyte.gz".to_string(), labels(60_000)),
        ("t10k-images-idx3-ubyte.gz".to_string(), blank(10_000)),
        ("t10k-labels-idx1-ubyte.gz".to_string(), labels(10_000)),
    ];
    let port = serve(files, 4);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let body = format!(
        "[data]\nsource = \"mnist\"\ndir = \"{}\"\nmirror = \"http://127.0.0.1:{port}/mnist/\"\n\
         train_range = [0, 200]\ntest_range = [0, 100]\n[model]\nkind = \"mlp\"\n\
         [train]\nepochs = 1\n",
        cache.display()
    );
    let config = write_config(dir.path(), "mnist.toml", &body);
    let run = dir.path().join("run");
    let output = trainlab(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(cache.join("t10k-labels-idx1-ubyte.gz").is_file());
    // Every label is 3, so the model learns to predict 3.
    assert_eq!(metric(&run, "test_accuracy"), 1.0);
}

#[test]
fn mnist_source_offline_says_where() {
    // Bind and drop a listener so the port is closed and nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[data]\nsource = \"mnist\"\ndir = \"{}\"\nmirror = \"http://127.0.0.1:{port}/\"\n",
        dir.path().join("cache").display()
    );
    let config = write_config(dir.path(), "offline.toml", &body);
    let run = dir.path().join("run");
    let output = trainlab(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot download"), "{stderr}");
    assert!(stderr.contains("copy the four MNIST files"), "{stderr}");
    assert!(stderr.contains("cache"), "{stderr}");
}

#[test]
fn demo_config_is_valid() {
    let output = trainlab(&["config", "show", "configs/digits/demo.toml"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("synthetic"));
}

#[test]
fn shipped_configs_resolve() {
    for name in ["mnist-mlp", "mnist-cnn", "fashion-cnn"] {
        let path = format!("configs/digits/{name}.toml");
        let output = trainlab(&["config", "show", &path]);
        assert!(output.status.success(), "{name}: {}", text(&output));
    }
}

#[test]
fn adam_with_decay_and_cosine_trains() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[data]\nsource = \"synthetic\"\nsynthetic_train = 1000\nsynthetic_test = 200\n\
                [model]\nkind = \"mlp\"\n\
                [train]\nepochs = 3\noptimizer = \"adam\"\nlearning_rate = 0.002\n\
                weight_decay = 0.0001\nschedule = \"cosine\"\n";
    let config = write_config(dir.path(), "adam.toml", body);
    let run = dir.path().join("run");
    let output = trainlab(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let rates: Vec<f64> = metrics_rows(&run)
        .iter()
        .map(|r| r[1].parse().unwrap())
        .collect();
    assert_eq!(rates[0], 0.002);
    assert!(
        rates[1] < rates[0] && rates[2] < rates[1],
        "cosine decay: {rates:?}"
    );
    let accuracy = metric(&run, "test_accuracy");
    assert!(accuracy > 0.5, "test accuracy {accuracy}");
}
