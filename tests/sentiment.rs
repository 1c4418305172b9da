//! End-to-end tests of the sentiment family: the CLI on synthetic data and fixtures, and the
//! MIT 6.86x course numbers on the real review data (ignored unless TRAINLAB_DATA is set).
//!
//! The course numbers come from the course's NumPy reference code (project 1, "automatic review
//! analyzer") with binary features, stopwords kept and the fixed orders 4000.txt and 200.txt.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use trainlab::backend::BackendChoice;
use trainlab::config::{ConfigDoc, Override, Precision, resolve};
use trainlab::sentiment::SentimentConfig;
use trainlab::sentiment::dataset::{self, Prepared};
use trainlab::sentiment::model::{LinearClassifier, SparseBatch};
use trainlab::sentiment::online;

const NEEDS_DATA: &str =
    "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Returns the review data folder under TRAINLAB_DATA, and panics with the fix when it is unset.
fn reviews_dir() -> PathBuf {
    let Some(root) = std::env::var_os("TRAINLAB_DATA") else {
        panic!("TRAINLAB_DATA is not set; {NEEDS_DATA}");
    };
    let dir = PathBuf::from(root).join("reviews");
    assert!(
        dir.is_dir(),
        "{} does not exist; {NEEDS_DATA}",
        dir.display()
    );
    dir
}

/// Runs the trainlab binary and returns its output.
fn trainlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainlab"))
        .args(args)
        .output()
        .expect("the trainlab binary runs")
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "trainlab failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Trains a shipped config into `out` with extra `--set` flags and returns the summary metrics.
fn train_config(config: &str, out: &Path, sets: &[String]) -> Value {
    let config = repo_file(config);
    let mut args = vec![
        "-q".to_string(),
        "train".into(),
        config.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    for set in sets {
        args.push("--set".into());
        args.push(set.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_success(&trainlab(&args));
    summary_metrics(out)
}

fn summary_metrics(run: &Path) -> Value {
    let text = std::fs::read_to_string(run.join("summary.json")).expect("summary.json exists");
    let summary: Value = serde_json::from_str(&text).expect("summary.json is JSON");
    assert_eq!(summary["status"], "completed");
    summary["metrics"].clone()
}

fn metric(metrics: &Value, key: &str) -> f64 {
    metrics[key]
        .as_f64()
        .unwrap_or_else(|| panic!("metric {key} missing in {metrics}"))
}

fn data_dir_set() -> String {
    format!("data.dir={}", reviews_dir().display())
}

fn assert_close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got}, expected {want}"
    );
}

mod synthetic {
    use super::*;

    #[test]
    fn demo_writes_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let metrics = train_config("configs/sentiment/demo.toml", &out, &[]);
        assert!(metric(&metrics, "val_accuracy") > 0.8, "{metrics}");
        assert!(metric(&metrics, "train_accuracy") > 0.8, "{metrics}");
        assert_eq!(metrics["top_positive_words"].as_array().unwrap().len(), 10);
        assert_eq!(metrics["top_negative_words"].as_array().unwrap().len(), 10);
        for file in [
            "model.safetensors",
            "dictionary.txt",
            "metrics.csv",
            "accuracy.svg",
            "config.toml",
        ] {
            assert!(out.join(file).is_file(), "{file} missing");
        }
        let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
        assert!(
            csv.starts_with("epoch,train_accuracy,val_accuracy\n"),
            "{csv}"
        );
        assert_eq!(csv.lines().count(), 11);
    }

    #[test]
    fn safetensors_names_theta_and_theta0() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let metrics = train_config("configs/sentiment/demo.toml", &out, &[]);
        let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let size = metric(&metrics, "dictionary_size") as usize;
        assert_eq!(tensors.tensor("theta").unwrap().shape(), &[size]);
        assert_eq!(tensors.tensor("theta0").unwrap().shape(), &[1]);
        let words = std::fs::read_to_string(out.join("dictionary.txt")).unwrap();
        assert_eq!(words.lines().count(), size);
    }

    #[test]
    fn predict_text_prints_labels() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        train_config("configs/sentiment/demo.toml", &out, &[]);
        let output = trainlab(&[
            "predict",
            out.to_str().unwrap(),
            "--text",
            "delicious great perfect",
            "--text",
            "awful stale refund",
            "--text",
            "",
        ]);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], "label\tscore\ttext");
        assert!(lines[1].starts_with("+1\t"), "{stdout}");
        assert!(lines[2].starts_with("-1\t"), "{stdout}");
        assert_eq!(lines.len(), 4, "{stdout}");
    }

    #[test]
    fn predict_reads_lines_and_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        train_config("configs/sentiment/demo.toml", &out, &[]);
        let input = dir.path().join("reviews.txt");
        std::fs::write(&input, "yummy fresh best\nworst refund stale\n").unwrap();
        let output = trainlab(&[
            "predict",
            out.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ]);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let labels: Vec<&str> = stdout.lines().skip(1).map(|l| &l[..2]).collect();
        assert_eq!(labels, vec!["+1", "-1"], "{stdout}");

        let mut child = Command::new(env!("CARGO_BIN_EXE_trainlab"))
            .args(["predict", out.to_str().unwrap(), "--input", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"delicious love\n")
            .unwrap();
        let piped = child.wait_with_output().unwrap();
        assert_success(&piped);
        let stdout = String::from_utf8_lossy(&piped.stdout);
        assert_eq!(
            stdout.lines().nth(1).map(|l| &l[..2]),
            Some("+1"),
            "{stdout}"
        );
    }

    #[test]
    fn predict_rejects_images() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        train_config("configs/sentiment/demo.toml", &out, &[]);
        let output = trainlab(&["predict", out.to_str().unwrap(), "digit.png"]);
        assert_eq!(output.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&output.stderr).contains("--text"));
    }

    #[test]
    fn mini_batch_algorithms_learn() {
        for algorithm in ["hinge-sgd", "logistic"] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("run");
            let sets = [
                format!("model.algorithm=\"{algorithm}\""),
                "model.epochs=3".to_string(),
                "model.lambda=0.0001".to_string(),
            ];
            let metrics = train_config("configs/sentiment/demo.toml", &out, &sets);
            assert!(
                metric(&metrics, "val_accuracy") > 0.8,
                "{algorithm}: {metrics}"
            );
            let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
            assert!(csv.starts_with("epoch,train_accuracy,val_accuracy,loss\n"));
        }
    }

    #[test]
    fn sweep_writes_csv_and_plots() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sweep.toml");
        let text = std::fs::read_to_string(repo_file("configs/sentiment/demo.toml")).unwrap();
        std::fs::write(&config, format!("{text}\n[sweep]\nepochs = [1, 2]\n")).unwrap();
        let out = dir.path().join("sweep");
        let output = trainlab(&[
            "-q",
            "sweep",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "data.synthetic_reviews=400",
        ]);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("best by val_accuracy"), "{stdout}");
        let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
        assert!(csv.starts_with("point,model.epochs,"), "{csv}");
        assert_eq!(csv.lines().count(), 3);
        assert!(out.join("sweep-model-epochs.svg").is_file());
    }

    #[test]
    fn same_seed_same_results() {
        let dir = tempfile::tempdir().unwrap();
        let first = train_config("configs/sentiment/demo.toml", &dir.path().join("a"), &[]);
        let second = train_config("configs/sentiment/demo.toml", &dir.path().join("b"), &[]);
        assert_eq!(first, second);
    }
}

mod bad_input {
    use super::*;

    fn train_with_file(contents: &[u8], extra: &[&str]) -> Output {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("bad.tsv");
        std::fs::write(&data, contents).unwrap();
        let config = dir.path().join("bad.toml");
        let text = format!(
            "[experiment]\ntask = \"sentiment\"\n[data]\ndir = \"{}\"\ntrain = \"bad.tsv\"\n\
             val = \"\"\n",
            dir.path().display()
        );
        std::fs::write(&config, text).unwrap();
        let out = dir.path().join("run");
        let mut args = vec![
            "-q",
            "train",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        trainlab(&args)
    }

    fn stderr(output: &Output) -> String {
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    #[test]
    fn ragged_row_exits_2() {
        let output = train_with_file(b"sentiment\ttext\n1\tgood\n-1\tbad\textra\n", &[]);
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains("bad.tsv:3"), "{}", stderr(&output));
    }

    #[test]
    fn bad_label_exits_2() {
        let output = train_with_file(b"sentiment\ttext\n5\tgood\n", &[]);
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("invalid label '5'"),
            "{}",
            stderr(&output)
        );
    }

    #[test]
    fn latin1_byte_under_utf8_exits_2() {
        let output = train_with_file(
            b"sentiment\ttext\n1\tcaf\xe9\n",
            &["--set", "data.encoding=utf8"],
        );
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("invalid UTF-8"),
            "{}",
            stderr(&output)
        );
    }

    #[test]
    fn empty_dictionary_exits_2() {
        let output = train_with_file(b"sentiment\ttext\n1\t \n-1\t\n", &[]);
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("empty dictionary"),
            "{}",
            stderr(&output)
        );
    }

    #[test]
    fn misspelled_key_exits_2() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("typo.toml");
        std::fs::write(
            &config,
            "[experiment]\ntask = \"sentiment\"\n[model]\nlamda = 1.0\n",
        )
        .unwrap();
        let output = trainlab(&["train", config.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("did you mean 'lambda'"),
            "{}",
            stderr(&output)
        );
    }
}

/// The course numbers on the real reviews, computed through the library: the online learners
/// train in f64 and the Burn module scores on a flex f32 device.
mod course {
    use super::*;

    fn prepared(config: &str) -> Prepared {
        let overrides = vec![Override::parse(&data_dir_set()).unwrap()];
        let doc = ConfigDoc::load(&repo_file(config), overrides).unwrap();
        let params = resolve::<SentimentConfig>(&doc).unwrap().checked;
        dataset::prepare(&params.data, &params.features, 0).unwrap()
    }

    /// Trains with the course order and returns validation accuracy scored by the module.
    fn val_accuracy(prepared: &Prepared, algorithm: &str, epochs: usize, lambda: f64) -> f64 {
        let algorithm = serde_json::from_value(Value::String(algorithm.into())).unwrap();
        let train = &prepared.train;
        let weights = online::train(
            algorithm,
            lambda,
            &train.features,
            &train.labels,
            &prepared.order,
            epochs,
        )
        .expect("an online algorithm");
        let device = BackendChoice::new("flex", 0, Precision::F32)
            .unwrap()
            .device(0)
            .unwrap();
        let model = LinearClassifier::from_weights(&weights, &device);
        let val = prepared
            .val
            .as_ref()
            .expect("the course configs have a val set");
        model.accuracy(&SparseBatch::all(&val.features, &device), &val.labels)
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn dictionary_has_13234_words() {
        let prepared = prepared("configs/sentiment/pegasos.toml");
        assert_eq!(prepared.dictionary.unwrap().len(), 13234);
        assert_eq!(prepared.train.labels.len(), 4000);
        assert_eq!(prepared.order.len(), 4000);
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn perceptron_epoch_sweep() {
        let prepared = prepared("configs/sentiment/perceptron.toml");
        let expected = [
            (1, 0.758),
            (5, 0.720),
            (10, 0.716),
            (15, 0.778),
            (25, 0.794),
            (50, 0.790),
        ];
        for (epochs, want) in expected {
            let got = val_accuracy(&prepared, "perceptron", epochs, 0.0);
            assert_close(got, want, 1e-9, &format!("perceptron T={epochs}"));
        }
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn pegasos_epoch_sweep() {
        let prepared = prepared("configs/sentiment/pegasos.toml");
        let expected = [
            (1, 0.786),
            (5, 0.780),
            (10, 0.790),
            (15, 0.802),
            (25, 0.806),
            (50, 0.800),
        ];
        for (epochs, want) in expected {
            let got = val_accuracy(&prepared, "pegasos", epochs, 0.01);
            assert_close(got, want, 1e-9, &format!("pegasos T={epochs}"));
        }
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn pegasos_lambda_sweep() {
        let prepared = prepared("configs/sentiment/pegasos.toml");
        let expected = [
            (0.001, 0.786),
            (0.01, 0.806),
            (0.1, 0.762),
            (1.0, 0.568),
            (10.0, 0.518),
        ];
        for (lambda, want) in expected {
            let got = val_accuracy(&prepared, "pegasos", 25, lambda);
            assert_close(got, want, 1e-9, &format!("pegasos λ={lambda}"));
        }
    }
}

/// The course numbers through the CLI: shipped configs, run folders, backends and precisions.
mod course_cli {
    use super::*;

    /// Course train/val accuracies at T = 10, λ = 0.01.
    const T10: [(&str, f64, f64); 3] = [
        ("configs/sentiment/perceptron.toml", 0.81575, 0.7160),
        ("configs/sentiment/average-perceptron.toml", 0.97275, 0.7980),
        ("configs/sentiment/pegasos.toml", 0.91425, 0.7900),
    ];

    fn check_t10(extra: &[&str]) {
        for (config, train, val) in T10 {
            let dir = tempfile::tempdir().unwrap();
            let mut sets = vec![
                data_dir_set(),
                "model.epochs=10".into(),
                "model.lambda=0.01".into(),
            ];
            sets.extend(extra.iter().map(|s| s.to_string()));
            let metrics = train_config(config, &dir.path().join("run"), &sets);
            let what = format!("{config} with {extra:?}");
            assert_close(
                metric(&metrics, "train_accuracy"),
                train,
                1e-9,
                &format!("{what} train"),
            );
            assert_close(
                metric(&metrics, "val_accuracy"),
                val,
                1e-9,
                &format!("{what} val"),
            );
            assert_eq!(metric(&metrics, "dictionary_size"), 13234.0);
        }
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn t10_accuracies_flex_f32() {
        check_t10(&[]);
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn t10_accuracies_flex_f64() {
        check_t10(&["backend.precision=\"f64\""]);
    }

    #[cfg(feature = "ndarray")]
    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn t10_accuracies_ndarray_f32_and_f64() {
        check_t10(&["backend.name=\"ndarray\""]);
        check_t10(&["backend.name=\"ndarray\"", "backend.precision=\"f64\""]);
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn pegasos_t25_numbers_and_top_words() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let metrics = train_config("configs/sentiment/pegasos.toml", &run, &[data_dir_set()]);
        assert_close(metric(&metrics, "train_accuracy"), 0.9185, 1e-9, "train");
        assert_close(metric(&metrics, "val_accuracy"), 0.8060, 1e-9, "val");
        let expected = [
            "delicious",
            "great",
            "!",
            "best",
            "perfect",
            "loves",
            "wonderful",
            "glad",
            "love",
            "quickly",
        ];
        let words: Vec<&str> = metrics["top_positive_words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(words, expected);
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn predict_reproduces_val_accuracy() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let metrics = train_config("configs/sentiment/pegasos.toml", &run, &[data_dir_set()]);
        let val_file = reviews_dir().join("reviews_val.tsv");
        let predictions = dir.path().join("predictions.tsv");
        let output = trainlab(&[
            "predict",
            run.to_str().unwrap(),
            "--input",
            val_file.to_str().unwrap(),
            "--output",
            predictions.to_str().unwrap(),
        ]);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("accuracy 0.806000 (403 of 500"), "{stdout}");
        let table = std::fs::read_to_string(&predictions).unwrap();
        assert_eq!(table.lines().count(), 501);

        let evaluate = trainlab(&["evaluate", run.to_str().unwrap()]);
        assert_success(&evaluate);
        let stdout = String::from_utf8_lossy(&evaluate.stdout);
        let want = format!("{:.6}", metric(&metrics, "val_accuracy"));
        let line = stdout
            .lines()
            .find(|l| l.starts_with("val_accuracy"))
            .unwrap();
        assert!(line.ends_with(&want), "{line} vs {want}");
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn toy_theta_per_algorithm() {
        let expected = [
            ("perceptron", [3.9174, 4.1640], -8.0, 1e-9),
            ("average-perceptron", [3.478260, 3.611061], -6.373, 1e-6),
            ("pegasos", [0.734646, 0.630022], -1.219507, 1e-6),
        ];
        for (algorithm, theta, theta0, tolerance) in expected {
            let dir = tempfile::tempdir().unwrap();
            let run = dir.path().join("run");
            let sets = [data_dir_set(), format!("model.algorithm=\"{algorithm}\"")];
            let metrics = train_config("configs/sentiment/toy.toml", &run, &sets);
            let got = metrics["theta"].as_array().unwrap();
            for (i, want) in theta.iter().enumerate() {
                let value = got[i].as_f64().unwrap();
                assert_close(value, *want, tolerance, &format!("{algorithm} theta[{i}]"));
            }
            assert_close(metric(&metrics, "theta0"), theta0, tolerance, algorithm);
            let svg = std::fs::read_to_string(run.join("decision-boundary.svg")).unwrap();
            assert!(
                svg.starts_with("<svg"),
                "{algorithm}: decision boundary is not SVG"
            );
        }
    }

    #[test]
    #[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
    fn toy_run_reports_every_algorithm() {
        let expected = [
            ("perceptron", [3.9174, 4.1640], -8.0, 1e-9),
            ("average-perceptron", [3.478260, 3.611061], -6.373, 1e-6),
            ("pegasos", [0.734646, 0.630022], -1.219507, 1e-6),
        ];
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let metrics = train_config("configs/sentiment/toy.toml", &run, &[data_dir_set()]);
        let all = metrics["algorithms"]
            .as_object()
            .expect("an 'algorithms' object");
        assert_eq!(all.len(), 3);
        for (algorithm, theta, theta0, tolerance) in expected {
            let entry = &all[algorithm];
            for (i, want) in theta.iter().enumerate() {
                let value = entry["theta"][i].as_f64().unwrap();
                assert_close(value, *want, tolerance, &format!("{algorithm} theta[{i}]"));
            }
            let got = entry["theta0"].as_f64().unwrap();
            assert_close(got, theta0, tolerance, algorithm);
        }
        let svg = std::fs::read_to_string(run.join("decision-boundary.svg")).unwrap();
        for algorithm in ["perceptron", "average-perceptron", "pegasos"] {
            assert!(
                svg.contains(algorithm),
                "{algorithm} missing from the boundary plot"
            );
        }
    }
}
