//! The GPU code path: a few training steps of the MLP and the CNN and a few EM iterations on
//! the `wgpu` backend, each compared with the same steps on `flex`.
//!
//! `TRAINLAB_GPU_BACKENDS` (comma-separated, default `wgpu`) lists the backends to compare with
//! flex, so `scripts/gpu-check.sh` runs the same set on `cuda`. Only built with
//! `--features wgpu`. Without a GPU, Mesa's software Vulkan driver (lavapipe,
//! Debian packages `mesa-vulkan-drivers libvulkan1`) runs these on the CPU, so they are kept
//! tiny. Tolerances: f32 on two backends sums in different orders, so after a handful of SGD
//! steps parameters agree to about 1e-5; the checks allow 1e-3 absolute for parameters and
//! 1e-3 relative for losses and log-likelihoods.
#![cfg(feature = "wgpu")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PARAMETER_TOLERANCE: f32 = 1e-3;
const LOSS_TOLERANCE: f64 = 1e-3;

fn trainlab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainlab"))
        .args(args)
        .current_dir(cwd)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the trainlab binary runs")
}

/// Trains `config` on `backend` into `<dir>/<backend>` and returns that run folder.
fn train_on(dir: &Path, config: &str, backend: &str) -> PathBuf {
    std::fs::write(dir.join("x.toml"), config).unwrap();
    let run = dir.join(backend);
    let run_arg = run.to_str().unwrap();
    let args = [
        "train",
        "x.toml",
        "--backend",
        backend,
        "--out",
        run_arg,
        "--progress",
        "plain",
    ];
    let output = trainlab(&args, dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{backend} run failed: {stderr}");
    run
}

fn summary_metrics(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["status"], "completed", "{text}");
    summary["metrics"].clone()
}

/// Reads every f32 tensor of a safetensors file, independently of Burn.
fn read_tensors(path: &Path) -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = match view.dtype() {
                safetensors::Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                safetensors::Dtype::F64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                    .collect(),
                other => panic!("{name}: unexpected dtype {other:?}"),
            };
            (name, values)
        })
        .collect()
}

fn assert_same_parameters(flex: &Path, gpu: &Path) {
    let expected = read_tensors(flex);
    let got = read_tensors(gpu);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (name, want) in &expected {
        let have = &got[name];
        assert_eq!(want.len(), have.len(), "{name}: lengths differ");
        let worst = want
            .iter()
            .zip(have)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= PARAMETER_TOLERANCE,
            "{name}: max difference {worst}"
        );
    }
}

fn assert_close_relative(flex: f64, gpu: f64, what: &str) {
    let scale = flex.abs().max(1e-12);
    let difference = (flex - gpu).abs() / scale;
    assert!(
        difference <= LOSS_TOLERANCE,
        "{what}: flex {flex} vs GPU {gpu}"
    );
}

fn digits_config(model: &str) -> String {
    format!(
        "[experiment]\ntask = \"digits\"\nseed = 7\n\n[backend]\nprecision = \"f32\"\n\n\
         [data]\nsource = \"synthetic\"\nsynthetic_train = 160\nsynthetic_test = 64\n\
         dev_fraction = 0.0\n\n[model]\n{model}\n\n[train]\nepochs = 1\nbatch_size = 32\n\
         optimizer = \"sgd\"\nlearning_rate = 0.05\nmomentum = 0.9\nnesterov = true\n"
    )
}

/// Returns the GPU backends to compare with flex.
fn gpu_backends() -> Vec<String> {
    let list = std::env::var("TRAINLAB_GPU_BACKENDS").unwrap_or_else(|_| "wgpu".to_string());
    list.split(',')
        .map(|name| name.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

fn compare_digits(model: &str) {
    for backend in gpu_backends() {
        compare_digits_on(model, &backend);
    }
}

fn compare_digits_on(model: &str, backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = digits_config(model);
    let flex = train_on(dir.path(), &config, "flex");
    let gpu = train_on(dir.path(), &config, backend);
    let (flex_metrics, gpu_metrics) = (summary_metrics(&flex), summary_metrics(&gpu));
    for key in ["test_loss", "test_accuracy"] {
        let a = flex_metrics[key].as_f64().unwrap();
        let b = gpu_metrics[key].as_f64().unwrap();
        assert_close_relative(a, b, key);
    }
    assert_same_parameters(
        &flex.join("model.safetensors"),
        &gpu.join("model.safetensors"),
    );
}

#[test]
fn mlp_steps_match_flex() {
    compare_digits("kind = \"mlp\"\nhidden = 32");
}

#[test]
fn cnn_steps_match_flex() {
    // Dropout masks come from each backend's own generator, so dropout is off here.
    compare_digits("kind = \"cnn\"\ndropout = 0.0");
}

#[test]
fn em_iterations_match_flex() {
    for backend in gpu_backends() {
        compare_em_on(&backend, "dense");
    }
}

#[test]
fn sparse_em_iterations_match_flex() {
    // The sparse layout runs on gathers and scatter-adds instead of matrix products.
    for backend in gpu_backends() {
        compare_em_on(&backend, "sparse");
    }
}

fn compare_em_on(backend: &str, layout: &str) {
    let config = format!(
        "[experiment]\ntask = \"mixture\"\nseed = 3\n\n[backend]\nprecision = \"f32\"\n\n\
         [data]\nsource = \"synthetic\"\n\n[data.synthetic]\nusers = 300\nitems = 12\n\n\
         [model]\nk = 3\n\n[init]\nrows = \"seeded\"\n\n[train]\nseeds = [0]\n\
         max_iterations = 5\nlayout = \"{layout}\"\nchunk_users = 128\n"
    );
    let config = config.as_str();
    let dir = tempfile::tempdir().unwrap();
    let flex = train_on(dir.path(), config, "flex");
    let gpu = train_on(dir.path(), config, backend);
    let (flex_metrics, gpu_metrics) = (summary_metrics(&flex), summary_metrics(&gpu));
    assert_eq!(flex_metrics["iterations"], gpu_metrics["iterations"]);
    let a = flex_metrics["log_likelihood"].as_f64().unwrap();
    let b = gpu_metrics["log_likelihood"].as_f64().unwrap();
    assert_close_relative(a, b, "log_likelihood");
    let (flex_model, gpu_model) = (
        flex.join("mixture.safetensors"),
        gpu.join("mixture.safetensors"),
    );
    assert_same_parameters(&flex_model, &gpu_model);
}

#[test]
fn f64_rejected_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let config = digits_config("kind = \"mlp\"").replace("\"f32\"", "\"f64\"");
    std::fs::write(dir.path().join("x.toml"), config).unwrap();
    let output = trainlab(
        &["train", "x.toml", "--backend", "wgpu", "--out", "run"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot run precision f64"), "{stderr}");
    assert!(!dir.path().join("run").exists(), "a run folder was created");
}
