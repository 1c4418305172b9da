//! End-to-end checks of the shared command-line behaviour: backends, config errors and run
//! folders. They run the built binary in temporary folders.

use std::path::Path;
use std::process::{Command, Output};

fn trainlab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainlab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the trainlab binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes `x.toml` into a new temporary folder and returns the folder.
fn config_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.toml"), text).unwrap();
    dir
}

fn artifacts_is_empty(dir: &Path) -> bool {
    let artifacts = dir.join("artifacts");
    !artifacts.exists() || std::fs::read_dir(&artifacts).unwrap().next().is_none()
}

/// A small run that trains in well under a second: EM on generated ratings.
const MINIMAL: &str = "[experiment]\ntask = \"mixture\"\nseed = 1\n\n[data]\nsource = \"synthetic\"\n\n[data.synthetic]\nusers = 60\nitems = 8\n\n[model]\nk = 2\n\n[train]\nseeds = [0]\n";

#[test]
fn backends_lists_flex() {
    let dir = tempfile::tempdir().unwrap();
    let output = trainlab(&["backends"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.lines()
            .any(|l| l.starts_with("flex") && l.contains("yes")),
        "{text}"
    );
}

#[test]
fn config_show_applies_set() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(
        &["config", "show", "x.toml", "--set", "experiment.seed=3"],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let shown: toml::Table = toml::from_str(&stdout(&output)).unwrap();
    assert_eq!(shown["experiment"]["seed"].as_integer(), Some(3));
    assert_eq!(shown["backend"]["name"].as_str(), Some("flex"));
}

#[test]
fn set_value_without_quotes_is_string() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(
        &[
            "config",
            "show",
            "x.toml",
            "--set",
            "experiment.name=my-run",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("name = \"my-run\""),
        "{}",
        stdout(&output)
    );
}

#[test]
fn unknown_key_names_line_and_suggestion() {
    let dir = config_dir("[experiment]\ntask = \"mixture\"\n\n[backend]\nnmae = \"flex\"\n");
    let output = trainlab(&["train", "x.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("unknown key 'backend.nmae' at x.toml:5"),
        "{message}"
    );
    assert!(message.contains("did you mean 'name'?"), "{message}");
    assert!(artifacts_is_empty(dir.path()), "a run folder was created");
}

#[test]
fn unknown_key_from_set_named() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(
        &["train", "x.toml", "--set", "experiment.sed=2"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("unknown key 'experiment.sed' in --set experiment.sed=2"),
        "{message}"
    );
    assert!(message.contains("did you mean 'seed'?"), "{message}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let dir = config_dir("[experiment]\ntask = \"mixture\"\nseed = \"abc\"\n");
    let output = trainlab(&["train", "x.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("'experiment.seed' at x.toml:3"),
        "{message}"
    );
    assert!(message.contains("\"abc\""), "{message}");
    assert!(artifacts_is_empty(dir.path()), "a run folder was created");
}

#[test]
fn misspelled_value_suggests_variant() {
    let dir = config_dir("[experiment]\ntask = \"mixture\"\n[backend]\nprecision = \"f46\"\n");
    let output = trainlab(&["config", "show", "x.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("'backend.precision' at x.toml:4"),
        "{message}"
    );
    assert!(message.contains("did you mean 'f64'?"), "{message}");
}

#[test]
fn missing_task_rejected() {
    let dir = config_dir("[experiment]\nseed = 1\n");
    let output = trainlab(&["config", "show", "x.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("missing key 'experiment.task'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_toml_names_line() {
    let dir = config_dir("[experiment]\ntask = \"mixture\"\nseed = = 1\n");
    let output = trainlab(&["config", "show", "x.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("invalid TOML at x.toml:3"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_config_file_is_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = trainlab(&["train", "nope.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot read config file nope.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn uncompiled_backend_lists_compiled() {
    if cfg!(feature = "wgpu") {
        eprintln!("skipped: this build has the wgpu feature, so wgpu is not missing");
        return;
    }
    let dir = config_dir(MINIMAL);
    let output = trainlab(&["train", "x.toml", "--backend", "wgpu"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("compiled: flex"), "{message}");
    assert!(message.contains("--features wgpu"), "{message}");
    assert!(artifacts_is_empty(dir.path()), "a run folder was created");
}

#[test]
fn unknown_backend_rejected() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(&["train", "x.toml", "--backend", "tpu"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("unknown backend 'tpu'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn out_folder_not_empty_refused() {
    let dir = config_dir(MINIMAL);
    std::fs::create_dir(dir.path().join("results")).unwrap();
    std::fs::write(dir.path().join("results/keep.txt"), "earlier results").unwrap();
    let output = trainlab(&["train", "x.toml", "--out", "results"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not empty"),
        "{}",
        stderr(&output)
    );
    let kept = std::fs::read_to_string(dir.path().join("results/keep.txt")).unwrap();
    assert_eq!(kept, "earlier results");
    assert_eq!(
        std::fs::read_dir(dir.path().join("results"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn bad_set_syntax_rejected() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(
        &["config", "show", "x.toml", "--set", "experiment.seed"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("expected section.key=value"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn out_of_range_names_value_and_range() {
    let dir = config_dir(&format!("{MINIMAL}\n[sweep]\n"));
    let text = MINIMAL.replace("k = 2", "k = 0");
    std::fs::write(dir.path().join("x.toml"), text).unwrap();
    let output = trainlab(&["train", "x.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("'model.k' at x.toml:13"), "{message}");
    assert!(message.contains("0 is out of range"), "{message}");
    assert!(artifacts_is_empty(dir.path()), "a run folder was created");
}

#[test]
fn two_runs_get_two_folders() {
    let dir = config_dir(MINIMAL);
    for _ in 0..2 {
        let output = trainlab(&["train", "x.toml", "--progress", "plain"], dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("artifacts/mixture-x"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert!(run.join("config.toml").is_file(), "{}", run.display());
        assert!(run.join("metrics.csv").is_file(), "{}", run.display());
    }
}

#[test]
fn summary_records_run_facts() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(&["train", "x.toml", "--out", "run"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(dir.path().join("run/summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["task"], "mixture");
    assert_eq!(summary["backend"], "flex");
    assert_eq!(summary["precision"], "f64");
    assert_eq!(summary["seed"], 1);
    assert!(summary["wall_seconds"].as_f64().unwrap() > 0.0);
    assert!(summary["versions"]["burn"].is_string());
    assert!(summary["metrics"]["log_likelihood"].is_number(), "{text}");
}

#[test]
fn redirected_output_has_no_escape_codes() {
    let dir = config_dir(MINIMAL);
    let log = std::fs::File::create(dir.path().join("out.log")).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_trainlab"))
        .args(["train", "x.toml"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(dir.path().join("out.log")).unwrap();
    assert!(!text.contains('\u{1b}'), "escape codes in: {text}");
    assert!(
        text.lines().any(|l| l.contains("iteration")),
        "no progress lines in: {text}"
    );
    assert!(text.contains("run folder:"), "{text}");
}

#[test]
fn same_config_same_metrics() {
    let dir = config_dir(MINIMAL);
    for out in ["a", "b"] {
        let output = trainlab(&["train", "x.toml", "--out", out], dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let read = |run: &str| {
        let text = std::fs::read_to_string(dir.path().join(run).join("summary.json")).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut metrics = summary["metrics"].as_object().unwrap().clone();
        // Timings differ between runs by nature; every other metric must be identical.
        metrics.retain(|key, _| !key.ends_with("_seconds") && !key.ends_with("per_second"));
        metrics
    };
    assert_eq!(read("a"), read("b"));
    let weights =
        |run: &str| std::fs::read(dir.path().join(run).join("mixture.safetensors")).unwrap();
    assert_eq!(weights("a"), weights("b"));
}

#[test]
fn demo_trains_every_family() {
    let dir = tempfile::tempdir().unwrap();
    let output = trainlab(&["demo", "--progress", "none"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    for experiment in ["sentiment-demo", "digits-demo", "mixture-demo"] {
        let parent = dir.path().join("artifacts").join(experiment);
        let runs: Vec<_> = std::fs::read_dir(&parent)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(runs.len(), 1, "{experiment}: {runs:?}");
        let text = std::fs::read_to_string(runs[0].join("summary.json")).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(summary["status"], "completed", "{experiment}: {text}");
    }
}

#[test]
fn misspelled_learning_rate_suggested() {
    let text = "[experiment]\ntask = \"digits\"\n\n[data]\nsource = \"synthetic\"\n\n\
                [train]\nlearnig_rate = 0.1\n";
    let dir = config_dir(text);
    let output = trainlab(&["train", "x.toml"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("unknown key 'train.learnig_rate' at x.toml:8"),
        "{message}"
    );
    assert!(
        message.contains("did you mean 'learning_rate'?"),
        "{message}"
    );
    assert!(artifacts_is_empty(dir.path()), "a run folder was created");
}

#[test]
fn name_with_path_rejected() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(
        &["train", "x.toml", "--set", "experiment.name=../escaped"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not a plain folder name"),
        "{}",
        stderr(&output)
    );
    assert!(
        !dir.path().join("escaped").exists(),
        "a folder outside artifacts was created"
    );
}

#[test]
fn wrong_type_reads_plainly() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(
        &["config", "show", "x.toml", "--set", "model.k=2.5"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("expected an integer, found floating point 2.5"),
        "{message}"
    );
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
}

#[test]
fn sweep_without_selection_metric_stops_early() {
    let text =
        MINIMAL.replace("k = 2", "algorithm = \"kmeans\"\nk = 2") + "\n[sweep]\nk = [1, 2, 3]\n";
    let dir = config_dir(&text);
    let output = trainlab(&["sweep", "x.toml", "--out", "sweep"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("report no 'bic'"),
        "{}",
        stderr(&output)
    );
    assert!(
        !dir.path().join("sweep/point-002").exists(),
        "later points still ran"
    );
}

#[test]
fn resume_rejects_sweep_folder() {
    let dir = config_dir(&format!("{MINIMAL}\n[sweep]\nk = [1, 2]\n"));
    let output = trainlab(&["sweep", "x.toml", "--out", "sweep"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let summary_before = std::fs::read(dir.path().join("sweep/summary.json")).unwrap();
    let output = trainlab(&["train", "--resume", "sweep"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is a sweep folder"),
        "{}",
        stderr(&output)
    );
    let summary_after = std::fs::read(dir.path().join("sweep/summary.json")).unwrap();
    assert_eq!(summary_before, summary_after);
}

#[test]
fn evaluate_rejects_non_data_keys() {
    let dir = config_dir(MINIMAL);
    let output = trainlab(&["train", "x.toml", "--out", "run"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let output = trainlab(&["evaluate", "run", "--set", "model.k=3"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("only accepts data keys"),
        "{}",
        stderr(&output)
    );
}
