//! The course numbers on real data. MNIST tests read `$TRAINLAB_DATA/mnist`, whose file is the
//! 10,000-digit MNIST test set: the first 9,000 digits train and the last 1,000 test.
//! The Fashion-MNIST test reads the folder named by `TRAINLAB_FASHION_MNIST`. Debian's
//! `apt-get install -y dataset-fashion-mnist` puts it in /usr/share/datasets/fashion-mnist.

mod common_digits;

use std::path::{Path, PathBuf};

use common_digits::*;

/// Trains `config` with the 9,000 / 1,000 split of the MNIST test file and extra settings.
fn train_mnist_split(config: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let mnist = data_root().join("mnist");
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let data_dir = format!("data.dir={}", mnist.display());
    let mut args = vec![
        "train",
        config,
        "--out",
        run.to_str().unwrap(),
        "--set",
        &data_dir,
        "--set",
        "data.train_images=t10k-images-idx3-ubyte.gz",
        "--set",
        "data.train_labels=t10k-labels-idx1-ubyte.gz",
        "--set",
        "data.train_range=[0, 9000]",
        "--set",
        "data.test_range=[9000, 10000]",
        "--set",
        "data.dev_fraction=0",
    ];
    args.extend_from_slice(extra);
    let output = trainlab(&args);
    assert!(output.status.success(), "{}", text(&output));
    (dir, run)
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn mnist_course_cnn_five_epochs() {
    // PyTorch 2.x reaches 0.970 with this recipe on this split.
    let (_dir, run) = train_mnist_split(
        "configs/digits/mnist-cnn.toml",
        &["--set", "train.epochs=5"],
    );
    let accuracy = metric(&run, "test_accuracy");
    eprintln!("course CNN, 5 epochs: test accuracy {accuracy}");
    assert!(accuracy >= 0.965, "test accuracy {accuracy}");
    assert_eq!(metrics_rows(&run).len(), 5);
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn mnist_course_mlp() {
    let (_dir, run) = train_mnist_split("configs/digits/mnist-mlp.toml", &[]);
    let accuracy = metric(&run, "test_accuracy");
    eprintln!("course MLP: test accuracy {accuracy}");
    assert!(accuracy >= 0.90, "test accuracy {accuracy}");
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn mnist_mlp_learning_rate_ten_diverges() {
    let mnist = data_root().join("mnist");
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let data_dir = format!("data.dir={}", mnist.display());
    let output = trainlab(&[
        "train",
        "configs/digits/mnist-mlp.toml",
        "--out",
        run.to_str().unwrap(),
        "--set",
        &data_dir,
        "--set",
        "data.train_images=t10k-images-idx3-ubyte.gz",
        "--set",
        "data.train_labels=t10k-labels-idx1-ubyte.gz",
        "--set",
        "train.learning_rate=10",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the loss became"), "{stderr}");
    assert!(stderr.contains("lower train.learning_rate"), "{stderr}");
    assert!(!run.join("model.safetensors").exists());
}

/// Trains the CNN on a subset small enough for the ndarray backend, whose convolutions are
/// slow, and returns the test accuracy and loss.
fn backend_subset(backend: &str) -> (f64, f64) {
    let (_dir, run) = train_mnist_split(
        "configs/digits/mnist-cnn.toml",
        &[
            "--backend",
            backend,
            "--set",
            "train.epochs=1",
            "--set",
            "data.train_range=[0, 800]",
            "--set",
            "data.test_range=[9000, 9500]",
        ],
    );
    (metric(&run, "test_accuracy"), metric(&run, "test_loss"))
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn mnist_cnn_ndarray_matches_flex() {
    // Both start from the same host-drawn weights and shuffles, so only float rounding and
    // the dropout masks can differ.
    let (flex, flex_loss) = backend_subset("flex");
    let (ndarray, ndarray_loss) = backend_subset("ndarray");
    eprintln!(
        "CNN subset: flex {flex} (loss {flex_loss}), ndarray {ndarray} (loss {ndarray_loss})"
    );
    assert!(
        (flex - ndarray).abs() <= 0.01,
        "flex {flex} vs ndarray {ndarray}"
    );
    assert!(
        (flex_loss - ndarray_loss).abs() <= 0.01,
        "loss: flex {flex_loss} vs ndarray {ndarray_loss}"
    );
}

fn fashion_root() -> Option<PathBuf> {
    std::env::var_os("TRAINLAB_FASHION_MNIST").map(PathBuf::from)
}

#[test]
#[ignore = "needs Fashion-MNIST: apt-get install -y dataset-fashion-mnist, set \
            TRAINLAB_FASHION_MNIST=/usr/share/datasets/fashion-mnist and pass --ignored"]
fn fashion_cnn_two_epochs() {
    let root = fashion_root().expect(
        "set TRAINLAB_FASHION_MNIST to the Fashion-MNIST folder (Debian package \
         dataset-fashion-mnist installs it in /usr/share/datasets/fashion-mnist)",
    );
    assert!(
        Path::new(&root)
            .join("train-images-idx3-ubyte.gz")
            .is_file()
    );
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let data_dir = format!("data.dir={}", root.display());
    let output = trainlab(&[
        "train",
        "configs/digits/fashion-cnn.toml",
        "--out",
        run.to_str().unwrap(),
        "--set",
        &data_dir,
        "--set",
        "train.epochs=2",
        "--set",
        "data.dev_fraction=0",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    // PyTorch 2.x reaches 0.876 with this recipe.
    let accuracy = metric(&run, "test_accuracy");
    eprintln!("Fashion-MNIST CNN, 2 epochs: test accuracy {accuracy}");
    assert!(accuracy >= 0.86, "test accuracy {accuracy}");
}
