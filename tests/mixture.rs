//! The mixture family without real data: edge cases, synthetic recovery and the CLI.

mod common_mixture;

use std::path::Path;
use std::process::Command;

use common_mixture::{device, restarts, restarts_in, settings};
use serde_json::Value;
use trainlab::mixture::config::{Algorithm, InitRows, SyntheticParams};
use trainlab::mixture::data::{Ratings, parse_matrix, read_complete};
use trainlab::mixture::em::Layout;
use trainlab::mixture::fit::{Blocks, FitState, fit, initial_mixture, initial_rows, starting_rows};
use trainlab::mixture::model::GaussianMixture;
use trainlab::mixture::synthetic;

fn trainlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trainlab"))
        .args(args)
        .output()
        .expect("the trainlab binary runs")
}

fn summary(run: &Path) -> Value {
    let text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn assert_finite(mixture: &GaussianMixture) {
    assert_eq!(mixture.first_non_finite(), None, "{mixture:?}");
}

#[test]
fn empty_user_gets_prior_mean() {
    let text = "5 4 0\n0 0 0\n1 2 1\n5 5 4\n1 1 2\n";
    let ratings = parse_matrix("m.txt", text, Some(0.0)).unwrap();
    let device = device("flex");
    let run = restarts(&ratings, 2, &[0], settings(Algorithm::Em), None, &device).remove(0);
    assert_finite(&run.mixture);
    assert!(run.objective.is_finite());

    let folder = tempfile::tempdir().unwrap();
    let matrix = folder.path().join("m.txt");
    std::fs::write(&matrix, text).unwrap();
    let out = folder.path().join("run");
    let output = trainlab(&[
        "train",
        &config_path("worked-example.toml"),
        "--set",
        &format!("data.matrix={}", matrix.display()),
        "--set",
        "data.complete=\"\"",
        "--set",
        "model.k=2",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(summary(&out)["metrics"]["empty_users"], 1);
    let saved = GaussianMixture::load(&out.join("mixture.safetensors")).unwrap();
    let completed = read_complete(&out.join("completed.txt")).unwrap().2;
    let prior_mean: Vec<f64> = (0..3)
        .map(|l| (0..2).map(|j| saved.p[j] * saved.mu[j * 3 + l]).sum())
        .collect();
    common_mixture::assert_close("empty user row", &completed[3..6], &prior_mean, 1e-12);
}

#[test]
fn identical_users_do_not_collapse() {
    let ratings = parse_matrix("m.txt", "3 4 5\n3 4 5\n", Some(0.0)).unwrap();
    let device = device("flex");
    let run = restarts(&ratings, 2, &[0, 1], settings(Algorithm::Em), None, &device);
    for restart in &run {
        assert_finite(&restart.mixture);
        assert!(restart.objective.is_finite(), "{}", restart.objective);
        assert!(restart.mixture.var.iter().all(|&v| v >= 0.25));
    }
}

#[test]
fn k_above_user_count_is_clear_error() {
    let err = initial_rows(trainlab::mixture::config::InitRows::Numpy, 0, 3, 5).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("model.k = 5"), "{message}");
    assert!(message.contains("3"), "{message}");
    assert_eq!(trainlab::error::exit_status(&err), 2);
}

fn synthetic_params() -> SyntheticParams {
    SyntheticParams {
        users: 600,
        items: 20,
        components: 3,
        missing_share: 0.6,
        std: 0.3,
    }
}

#[test]
fn em_recovers_generating_mixture() {
    let sample = synthetic::sample(&synthetic_params(), 3);
    let device = device("flex");
    let seeds = [0, 1, 2, 3];
    let fits = restarts(
        &sample.ratings,
        3,
        &seeds,
        settings(Algorithm::Em),
        None,
        &device,
    );
    let best = fits
        .iter()
        .max_by(|a, b| a.objective.total_cmp(&b.objective))
        .unwrap();
    let truth = &sample.truth;
    for j in 0..truth.k {
        // Components come out in any order: match each true mean to the closest fitted one.
        let distance = |i: usize| -> f64 {
            let fitted = best.mixture.mean(i);
            let gap: f64 = fitted
                .iter()
                .zip(truth.mean(j))
                .map(|(a, b)| (a - b).powi(2))
                .sum();
            (gap / truth.d as f64).sqrt()
        };
        let closest = (0..best.mixture.k)
            .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
            .unwrap();
        assert!(
            distance(closest) < 0.1,
            "component {j}: RMS mean error {}",
            distance(closest)
        );
        assert!(
            (best.mixture.p[closest] - truth.p[j]).abs() < 0.05,
            "weight of {j}"
        );
        // The variance floor of 0.25 sits above the true 0.09, so the floor is what comes out.
        assert!((best.mixture.var[closest] - 0.25).abs() < 1e-9);
    }
}

#[test]
fn flex_and_ndarray_agree_on_synthetic() {
    let sample = synthetic::sample(&synthetic_params(), 5);
    let flex = restarts(
        &sample.ratings,
        3,
        &[0, 1],
        settings(Algorithm::Em),
        None,
        &device("flex"),
    );
    let ndarray = restarts(
        &sample.ratings,
        3,
        &[0, 1],
        settings(Algorithm::Em),
        None,
        &device("ndarray"),
    );
    for (a, b) in flex.iter().zip(&ndarray) {
        assert!((a.objective - b.objective).abs() <= 1e-9 * b.objective.abs());
        common_mixture::assert_close("mu", &a.mixture.mu, &b.mixture.mu, 1e-9);
    }
}

#[test]
fn chunked_and_sparse_match_dense_on_synthetic() {
    let sample = synthetic::sample(&synthetic_params(), 9);
    let device = device("flex");
    let dense = restarts(
        &sample.ratings,
        3,
        &[0],
        settings(Algorithm::Em),
        None,
        &device,
    );
    for (chunk, layout) in [
        (Some(7), Layout::Dense),
        (None, Layout::Sparse),
        (Some(7), Layout::Sparse),
    ] {
        let other = restarts_in(
            &sample.ratings,
            3,
            &[0],
            settings(Algorithm::Em),
            chunk,
            layout,
            &device,
        );
        let label = format!("{layout:?} blocks of {chunk:?} users");
        assert_eq!(dense[0].iterations, other[0].iterations, "{label}");
        common_mixture::assert_close(&label, &other[0].mixture.mu, &dense[0].mixture.mu, 1e-10);
        common_mixture::assert_close(&label, &[other[0].objective], &[dense[0].objective], 1e-12);
    }
}

#[test]
fn sparse_blocks_of_users_without_ratings_match_dense() {
    // Users 2..6 have no rating, so blocks of two users include blocks with no entry at all.
    let row = |items: &[(u32, f64)]| items.to_vec();
    let mut rows = vec![row(&[(0, 5.0), (2, 1.0)]), row(&[(1, 4.0), (3, 2.0)])];
    rows.extend(std::iter::repeat_n(Vec::new(), 4));
    rows.extend([
        row(&[(0, 4.0), (1, 5.0), (2, 2.0)]),
        row(&[(2, 1.0), (3, 1.0)]),
        row(&[(0, 3.0), (3, 3.0)]),
    ]);
    let ratings = Ratings::from_rows(4, rows);
    let device = device("flex");
    let mut settings = settings(Algorithm::Em);
    settings.max_iterations = 20;
    let dense = restarts(&ratings, 2, &[0], settings, None, &device).remove(0);
    let sparse = restarts_in(
        &ratings,
        2,
        &[0],
        settings,
        Some(2),
        Layout::Sparse,
        &device,
    )
    .remove(0);
    assert!(dense.objective.is_finite());
    assert_eq!(dense.iterations, sparse.iterations);
    common_mixture::assert_close("mu", &sparse.mixture.mu, &dense.mixture.mu, 1e-12);
    common_mixture::assert_close("var", &sparse.mixture.var, &dense.mixture.var, 1e-12);
    common_mixture::assert_close("p", &sparse.mixture.p, &dense.mixture.p, 1e-12);
}

fn config_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs/mixture")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn demo_config_writes_run_folder() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("run");
    let output = trainlab(&[
        "train",
        &config_path("demo.toml"),
        "--set",
        "data.synthetic.users=300",
        "--set",
        "train.seeds=[0]",
        "--set",
        "output.completed_matrix=true",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metrics = &summary(&out)["metrics"];
    for key in [
        "log_likelihood",
        "bic",
        "iterations",
        "restart_log_likelihoods",
        "rmse",
        "rmse_missing",
    ] {
        assert!(
            !metrics[key].is_null(),
            "summary metrics lack {key}: {metrics}"
        );
    }
    assert!(metrics["rmse_missing"].as_f64().unwrap() < 0.7, "{metrics}");
    for file in [
        "mixture.safetensors",
        "metrics.csv",
        "completed.txt",
        "config.toml",
    ] {
        assert!(out.join(file).is_file(), "missing {file}");
    }
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(
        csv.starts_with("seed,iteration,log_likelihood,seconds\n"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().count(),
        metrics["iterations"].as_u64().unwrap() as usize + 1
    );

    // evaluate rescored the saved mixture: same log-likelihood as the run's model_log_likelihood.
    let output = trainlab(&["evaluate", out.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let model_ll = metrics["model_log_likelihood"].as_f64().unwrap();
    assert!(
        stdout.contains(&format!("{model_ll:.6}")),
        "{stdout} vs {model_ll}"
    );
}

#[test]
fn predict_completes_rating_rows() {
    let folder = tempfile::tempdir().unwrap();
    let matrix = folder.path().join("m.txt");
    std::fs::write(
        &matrix,
        "5 5 1 0\n5 4 0 1\n1 0 5 5\n0 1 4 5\n5 5 1 1\n1 1 5 4\n",
    )
    .unwrap();
    let out = folder.path().join("run");
    let train = trainlab(&[
        "train",
        &config_path("worked-example.toml"),
        "--set",
        &format!("data.matrix={}", matrix.display()),
        "--set",
        "data.complete=\"\"",
        "--set",
        "model.k=2",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let partial = folder.path().join("new.txt");
    std::fs::write(&partial, "5 0 0 0\n0 0 0 5\n").unwrap();
    let output = trainlab(&[
        "predict",
        out.to_str().unwrap(),
        "--ratings",
        partial.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let completed = parse_matrix("stdout", &String::from_utf8_lossy(&output.stdout), None).unwrap();
    assert_eq!((completed.users, completed.items), (2, 4));
    let rows = completed.value;
    assert_eq!(rows[0], 5.0, "observed rating kept");
    assert!(
        rows[1] > 3.0,
        "a user who likes item 0 likes item 1: {rows:?}"
    );
    assert!(rows[2] < 3.0, "and not item 2: {rows:?}");
    assert!(
        rows[5] < 3.0,
        "a user who likes item 3 dislikes item 1: {rows:?}"
    );

    let wrong = folder.path().join("wide.txt");
    std::fs::write(&wrong, "5 0 0 0 1\n").unwrap();
    let output = trainlab(&[
        "predict",
        out.to_str().unwrap(),
        "--ratings",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("5 values per line") && stderr.contains("4 items"),
        "{stderr}"
    );
}

#[test]
fn bad_matrix_exits_2_naming_line() {
    let folder = tempfile::tempdir().unwrap();
    let matrix = folder.path().join("bad.txt");
    std::fs::write(&matrix, "1 2 3\n4 five 6\n").unwrap();
    let output = trainlab(&[
        "train",
        &config_path("worked-example.toml"),
        "--set",
        &format!("data.matrix={}", matrix.display()),
        "--out",
        folder.path().join("run").to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.txt:2"), "{stderr}");
    assert!(stderr.contains("'five'"), "{stderr}");
}

#[test]
fn two_d_run_draws_components() {
    let folder = tempfile::tempdir().unwrap();
    let points = folder.path().join("points.txt");
    let mut text = String::new();
    for i in 0..40 {
        let offset = if i % 2 == 0 { 0.0 } else { 6.0 };
        text.push_str(&format!(
            "{} {}\n",
            offset + (i as f64 * 0.37).sin(),
            offset + (i as f64 * 0.71).cos()
        ));
    }
    std::fs::write(&points, text).unwrap();
    let out = folder.path().join("run");
    let output = trainlab(&[
        "train",
        &config_path("toy-em-bic.toml"),
        "--set",
        &format!("data.matrix={}", points.display()),
        "--set",
        "model.k=2",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let svg = std::fs::read_to_string(out.join("mixture.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(
        svg.contains("component 0") && svg.contains("component 1"),
        "legend names components"
    );
}

#[test]
fn all_missing_matrix_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let matrix = folder.path().join("m.txt");
    std::fs::write(&matrix, "0 0 0\n0 0 0\n0 0 0\n").unwrap();
    let out = folder.path().join("run");
    let output = trainlab(&[
        "train",
        "configs/mixture/worked-example.toml",
        "--set",
        &format!("data.matrix={}", matrix.display()),
        "--set",
        "data.complete=\"\"",
        "--set",
        "model.k=1",
        "--set",
        "train.seeds=[0]",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no observed entry"), "{stderr}");
    assert_eq!(summary(&out)["status"], "failed");
}

#[test]
fn kmeans_plus_plus_spans_far_clusters() {
    // Three tight clusters of 40 users each, 100 rating points apart.
    let clusters = |missing_every: u32| {
        let mut rows = Vec::new();
        for user in 0..120u32 {
            let centre = 1.0 + 100.0 * f64::from(user / 40);
            let jitter = 0.01 * f64::from(user % 7);
            let row: Vec<(u32, f64)> = (0..6u32)
                .filter(|item| (user + item) % missing_every != 0)
                .map(|item| (item, centre + jitter))
                .collect();
            rows.push(row);
        }
        Ratings::from_rows(6, rows)
    };
    let device = device("flex");
    let complete = clusters(u32::MAX);
    let mut blocks = Blocks::new(&complete, Some(50), Layout::Sparse, &device);
    for seed in 0..5 {
        let chosen = starting_rows(&mut blocks, InitRows::KMeansPlusPlus, seed, 3).unwrap();
        let mut found: Vec<usize> = chosen.iter().map(|row| row / 40).collect();
        found.sort_unstable();
        assert_eq!(found, [0, 1, 2], "seed {seed}: rows {chosen:?}");
    }
    // With missing entries the distances run over each user's observed ratings, to a row that
    // has 0 where it is missing (the E-step's view). Both layouts agree, and a fixed seed
    // gives fixed, distinct rows.
    let partial = clusters(5);
    let mut picks = Vec::new();
    for layout in [Layout::Dense, Layout::Sparse] {
        let mut blocks = Blocks::new(&partial, Some(50), layout, &device);
        let first = starting_rows(&mut blocks, InitRows::KMeansPlusPlus, 3, 8).unwrap();
        assert_eq!(
            first,
            starting_rows(&mut blocks, InitRows::KMeansPlusPlus, 3, 8).unwrap()
        );
        let mut distinct = first.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "{layout:?}: {first:?}");
        picks.push(first);
    }
    assert_eq!(picks[0], picks[1]);
}

#[test]
fn kmeans_plus_plus_handles_duplicate_users() {
    // Every user is the same, so after the first row all distances are 0.
    let rows = vec![vec![(0u32, 3.0), (1, 4.0)]; 5];
    let ratings = Ratings::from_rows(2, rows);
    let mut blocks = Blocks::new(&ratings, None, Layout::Dense, &device("flex"));
    let mut chosen = starting_rows(&mut blocks, InitRows::KMeansPlusPlus, 0, 5).unwrap();
    chosen.sort_unstable();
    assert_eq!(chosen, [0, 1, 2, 3, 4]);
    let error = starting_rows(&mut blocks, InitRows::KMeansPlusPlus, 0, 6).unwrap_err();
    assert!(error.to_string().contains("model.k = 6"), "{error}");
}

#[test]
fn fit_continues_exactly_from_a_saved_state() {
    let sample = synthetic::sample(&synthetic_params(), 4);
    let ratings = &sample.ratings;
    let device = device("flex");
    let mut blocks = Blocks::new(ratings, None, Layout::Dense, &device);
    let rows = initial_rows(InitRows::Seeded, 4, ratings.users, 3).unwrap();
    let start = FitState::start(4, initial_mixture(ratings, &rows, 0.25));
    let mut settings = settings(Algorithm::Em);
    settings.tolerance = 0.0;
    settings.max_iterations = 12;
    let mut saved = None;
    let whole = fit(&mut blocks, start.clone(), settings, &mut |progress| {
        if progress.iteration == 5 {
            saved = Some(progress.state());
        }
        Ok(())
    })
    .unwrap();
    let saved = saved.expect("iteration 5 ran");
    assert_eq!(saved.iteration, 5);
    let mut seen = Vec::new();
    let continued = fit(&mut blocks, saved, settings, &mut |progress| {
        seen.push(progress.iteration);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (6..=12).collect::<Vec<_>>());
    assert_eq!(continued.iterations, whole.iterations);
    assert_eq!(continued.objective, whole.objective);
    assert_eq!(continued.mixture, whole.mixture);
}

/// Polls `checkpoint.json` until it contains a restart saved mid-way.
fn wait_for_saved_restart(run: &Path, limit: std::time::Duration) -> Value {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if let Ok(text) = std::fs::read_to_string(run.join("checkpoint.json"))
            && let Ok(value) = serde_json::from_str::<Value>(&text)
            && !value["current"].is_null()
            && !value["finished"].as_array().unwrap().is_empty()
        {
            return value;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("no mid-restart checkpoint within {limit:?}");
}

#[test]
fn resume_after_kill_matches_uninterrupted() {
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("long.toml");
    // Overlapping components and K above their number make EM slow to settle: three restarts
    // of a few hundred iterations (tolerance 0), each saved after every iteration.
    let text = r#"
[experiment]
task = "mixture"

[data]
source = "synthetic"

[data.synthetic]
users = 3000
items = 60
components = 6
missing_share = 0.9
std = 1.5

[model]
k = 10

[init]
rows = "seeded"

[train]
seeds = [5, 6, 7]
tolerance = 0.0
max_iterations = 400
checkpoint_seconds = 0.0
"#;
    std::fs::write(&config, text).unwrap();
    let (whole, killed) = (folder.path().join("whole"), folder.path().join("killed"));
    let output = trainlab(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_trainlab"))
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
    let saved = wait_for_saved_restart(&killed, std::time::Duration::from_secs(120));
    child.kill().unwrap(); // SIGKILL on Unix: no handler runs.
    child.wait().unwrap();
    assert!(!killed.join("summary.json").is_file() || summary(&killed)["status"] != "completed");

    let output = trainlab(&["train", "--resume", killed.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let seed = saved["current"]["seed"].as_u64().unwrap();
    let line = format!("seed {seed} saved after iteration");
    assert!(stderr.contains(&line), "{stderr}");
    let (a, b) = (
        summary(&whole)["metrics"].clone(),
        summary(&killed)["metrics"].clone(),
    );
    for key in [
        "log_likelihood",
        "restart_log_likelihoods",
        "iterations",
        "best_seed",
        "bic",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    let mixture = |run: &Path| GaussianMixture::load(&run.join("mixture.safetensors")).unwrap();
    assert_eq!(mixture(&whole), mixture(&killed));
    // Every iteration appears once, with the same objective, whatever the kill interrupted.
    let rows = |run: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        text.lines()
            .map(|line| line.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(rows(&whole), rows(&killed));
}

#[test]
fn huge_completed_matrix_refused_before_fitting() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("run");
    // 20,000 x 20,000 entries, about 40,000 of them observed.
    let output = trainlab(&[
        "train",
        &config_path("demo.toml"),
        "--set",
        "data.synthetic.users=20000",
        "--set",
        "data.synthetic.items=20000",
        "--set",
        "data.synthetic.missing_share=0.9999",
        "--set",
        "output.completed_matrix=true",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("output.completed_matrix"), "{stderr}");
    assert!(stderr.contains("400000000 entries"), "{stderr}");
    assert!(!out.join("mixture.safetensors").exists());
}

#[test]
fn resume_refuses_changed_settings_and_keeps_results() {
    let folder = tempfile::tempdir().unwrap();
    let run = folder.path().join("run");
    let output = trainlab(&[
        "train",
        &config_path("demo.toml"),
        "--set",
        "data.synthetic.users=300",
        "--out",
        run.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let completed = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let checkpoint = std::fs::read_to_string(run.join("checkpoint.json")).unwrap();

    // Another algorithm in the saved config: refused, naming the key.
    std::fs::write(
        run.join("config.toml"),
        config.replace("\"em\"", "\"kmeans\""),
    )
    .unwrap();
    let output = trainlab(&["train", "--resume", run.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("model.algorithm = em"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(run.join("summary.json")).unwrap(),
        completed
    );

    // A hand-edited mixture with too few means: refused, not a panic.
    std::fs::write(run.join("config.toml"), &config).unwrap();
    let mut value: Value = serde_json::from_str(&checkpoint).unwrap();
    value["finished"][0]["mixture"]["mu"] = serde_json::json!([1.0, 2.0]);
    std::fs::write(run.join("checkpoint.json"), value.to_string()).unwrap();
    let output = trainlab(&["train", "--resume", run.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("wrong number of values"), "{stderr}");

    // The untouched checkpoint resumes to the same metrics, fit time included.
    std::fs::write(run.join("checkpoint.json"), &checkpoint).unwrap();
    let output = trainlab(&["train", "--resume", run.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let before: Value = serde_json::from_str(&completed).unwrap();
    let after = summary(&run);
    for key in ["log_likelihood", "restart_log_likelihoods", "best_seed"] {
        assert_eq!(before["metrics"][key], after["metrics"][key], "{key}");
    }
    let seconds = |summary: &Value| summary["metrics"]["fit_seconds"].as_f64().unwrap();
    // The saved fit time carries over; only the last moments after the final save are lost.
    assert!(seconds(&after) >= 0.9 * seconds(&before), "{after}");
}
