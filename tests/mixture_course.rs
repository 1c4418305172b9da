//! The course's numbers on the real data: the worked example, the toy data and the Netflix
//! matrix. Every test here needs `TRAINLAB_DATA` and runs only with `--ignored`.

mod common_mixture;

use common_mixture::{
    assert_close, device, netflix_dir, parse_solutions, restarts, restarts_in, settings,
};
use trainlab::mixture::config::{Algorithm, InitRows};
use trainlab::mixture::data::{read_complete, read_matrix};
use trainlab::mixture::em::{self, Block, DeviceMixture, Layout, Stats};
use trainlab::mixture::fit::{Blocks, FitState, fit, initial_mixture, initial_rows};
use trainlab::mixture::model::GaussianMixture;

const NEEDS_DATA: &str =
    "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored";

fn first_e_step(block: &Block, start: &GaussianMixture) -> (Vec<f64>, f64, GaussianMixture) {
    let device = block.counts.device();
    let mixture = DeviceMixture::upload(start, &device);
    let (post, total) = em::posterior(block, &mixture);
    let ll = em::host(total.sum())[0];
    let stats = Stats::of_block(block, post.clone(), ll);
    let next = em::m_step(&stats, &mixture, 0.25, block.rows).download();
    (em::host(post), ll, next)
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn worked_example_matches_course_solutions() {
    let dir = netflix_dir();
    let expected = parse_solutions(
        &std::fs::read_to_string(dir.join("test_solutions.txt")).expect(NEEDS_DATA),
    );
    let ratings = read_matrix(&dir.join("test_incomplete.txt"), Some(0.0)).unwrap();
    let device = device("flex");
    let rows = initial_rows(InitRows::Numpy, 0, ratings.users, 4).unwrap();
    let start = initial_mixture(&ratings, &rows, 0.25);
    assert_close("initial mu", &start.mu, &expected["Input/Mu"], 0.0);
    assert_close("initial var", &start.var, &expected["Input/Var"], 0.005);

    let block = Block::upload(&ratings, 0, ratings.users, Layout::Dense, &device);
    let (post, ll, next) = first_e_step(&block, &start);
    assert_close(
        "first post",
        &post,
        &expected["After first E-step/post"],
        1e-8,
    );
    assert_close("first LL", &[ll], &[-152.16319226], 1e-10);
    assert_close(
        "first M-step mu",
        &next.mu,
        &expected["After first M-step/Mu"],
        1e-8,
    );
    assert_close(
        "first M-step var",
        &next.var,
        &expected["After first M-step/Var"],
        1e-8,
    );
    assert_close(
        "first M-step p",
        &next.p,
        &expected["After first M-step/P"],
        1e-8,
    );

    let run = restarts(&ratings, 4, &[0], settings(Algorithm::Em), None, &device).remove(0);
    assert_close("final LL", &[run.objective], &[-84.98451993], 1e-10);
    assert_close(
        "final mu",
        &run.mixture.mu,
        &expected["After a run/Mu"],
        1e-8,
    );
    assert_close(
        "final var",
        &run.mixture.var,
        &expected["After a run/Var"],
        1e-8,
    );
    assert_close("final p", &run.mixture.p, &expected["After a run/P"], 1e-8);

    // The course prints the posterior of the last E-step, which used the mixture one M-step
    // before the returned one.
    let mut blocks = Blocks::new(&ratings, None, Layout::Dense, &device);
    let mut short = settings(Algorithm::Em);
    short.max_iterations = run.iterations - 1;
    let from = FitState::start(0, start.clone());
    let before = fit(&mut blocks, from, short, &mut |_| Ok(())).unwrap();
    let (last_post, _, _) = first_e_step(&block, &before.mixture);
    assert_close(
        "final post",
        &last_post,
        &expected["After a run/post"],
        1e-8,
    );
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn worked_example_completion_and_rmse() {
    let dir = netflix_dir();
    let expected = parse_solutions(
        &std::fs::read_to_string(dir.join("test_solutions.txt")).expect(NEEDS_DATA),
    );
    let out = tempfile::tempdir().unwrap();
    let metrics = common_mixture_run::train("worked-example.toml", &dir, out.path(), &[]);
    assert_close(
        "rmse",
        &[metrics["rmse"].as_f64().unwrap()],
        &[0.31523012],
        1e-8,
    );
    assert_close(
        "log_likelihood",
        &[metrics["log_likelihood"].as_f64().unwrap()],
        &[-84.98451993],
        1e-10,
    );
    let completed = read_complete(&out.path().join("completed.txt")).unwrap().2;
    assert_close("X_pred", &completed, &expected["After a run/X_pred"], 1e-8);
}

/// Running shipped configs through the launcher.
mod common_mixture_run {
    use std::path::Path;

    use serde_json::{Map, Value};
    use trainlab::config::ConfigDoc;
    use trainlab::experiment::{RunLocation, launch};
    use trainlab::mixture::Mixture;
    use trainlab::progress::Progress;

    /// Trains `configs/mixture/<name>` with `data.dir` set to `data_dir` into `out`.
    pub fn train(name: &str, data_dir: &Path, out: &Path, extra: &[&str]) -> Map<String, Value> {
        let config = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs/mixture")
            .join(name);
        let mut flags = vec![format!("data.dir={}", data_dir.display())];
        flags.extend(extra.iter().map(|s| s.to_string()));
        let overrides = trainlab::cli::parse_overrides(&flags, None).unwrap();
        let doc = ConfigDoc::load(&config, overrides).unwrap();
        let location = RunLocation::At {
            path: out.to_path_buf(),
            force: true,
        };
        launch::<Mixture>(&doc, &location, &Progress::hidden())
            .unwrap()
            .metrics
    }
}

fn numpy_rows(key: &str) -> Vec<(usize, u64, Vec<usize>)> {
    let text =
        std::fs::read_to_string(netflix_dir().join("numpy_init_rows.json")).expect(NEEDS_DATA);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut cases = Vec::new();
    for (name, rows) in json[key].as_object().unwrap() {
        let (k, seed) = name.trim_start_matches('K').split_once("_seed").unwrap();
        let rows = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_u64().unwrap() as usize)
            .collect();
        cases.push((k.parse().unwrap(), seed.parse().unwrap(), rows));
    }
    cases
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn numpy_rows_match_every_course_case() {
    for (key, n) in [
        ("toy_n250", 250),
        ("netflix_n1200", 1200),
        ("worked_example_n20", 20),
    ] {
        let cases = numpy_rows(key);
        assert!(!cases.is_empty(), "{key} has no cases");
        for (k, seed, expected) in cases {
            let rows = initial_rows(InitRows::Numpy, seed, n, k).unwrap();
            assert_eq!(rows, expected, "{key} K={k} seed={seed}");
        }
    }
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn toy_kmeans_em_and_bic() {
    let toy = read_matrix(&netflix_dir().join("toy_data.txt"), None).expect(NEEDS_DATA);
    let device = device("flex");
    let seeds = [0, 1, 2, 3, 4];
    let costs = [5462.2975, 1684.9080, 1329.5949, 1035.4998];
    let lls = [-1307.2234, -1175.7146, -1138.8909, -1138.6012];
    let mut bics = Vec::new();
    for k in 1..=4 {
        let kmeans = restarts(&toy, k, &seeds, settings(Algorithm::KMeans), None, &device);
        let best_cost = kmeans
            .iter()
            .map(|r| r.objective)
            .fold(f64::INFINITY, f64::min);
        assert!(
            (best_cost - costs[k - 1]).abs() < 1e-4,
            "K={k}: cost {best_cost}"
        );

        let fits = restarts(&toy, k, &seeds, settings(Algorithm::Em), None, &device);
        let best = fits
            .iter()
            .max_by(|a, b| a.objective.total_cmp(&b.objective))
            .unwrap();
        assert!(
            (best.objective - lls[k - 1]).abs() < 1e-4,
            "K={k}: LL {}",
            best.objective
        );
        bics.push(best.mixture.bic(best.objective, toy.users));
    }
    let best_k = (0..4).max_by(|&a, &b| bics[a].total_cmp(&bics[b])).unwrap() + 1;
    assert_eq!(best_k, 3, "BIC values {bics:?}");
    assert!((bics[2] - -1169.2589).abs() < 1e-4, "BIC {}", bics[2]);
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn toy_sweep_picks_k_by_bic() {
    let dir = netflix_dir();
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/mixture/toy-em-bic.toml");
    let flags = vec![format!("data.dir={}", dir.display())];
    let overrides = trainlab::cli::parse_overrides(&flags, None).unwrap();
    let doc = trainlab::config::ConfigDoc::load(&config, overrides).unwrap();
    let out = tempfile::tempdir().unwrap();
    let location = trainlab::experiment::RunLocation::At {
        path: out.path().to_path_buf(),
        force: true,
    };
    let result = trainlab::experiment::sweep::<trainlab::mixture::Mixture>(
        &doc,
        &location,
        &trainlab::progress::Progress::hidden(),
    )
    .unwrap();
    assert_eq!(result.best_settings(), "model.k=3");
    let bic = result.rows[result.best].metrics["bic"].as_f64().unwrap();
    assert!((bic - -1169.2589).abs() < 1e-4, "BIC {bic}");
    assert!(out.path().join("point-003/mixture.svg").is_file());
}

const K12_PER_SEED: [f64; 5] = [
    -1399803.0467,
    -1390234.4223,
    -1416862.4012,
    -1393521.3930,
    -1416733.8084,
];

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn netflix_k1_and_k12_per_seed() {
    let ratings =
        read_matrix(&netflix_dir().join("netflix_incomplete.txt"), Some(0.0)).expect(NEEDS_DATA);
    let device = device("flex");
    let seeds = [0, 1, 2, 3, 4];
    let k1 = restarts(&ratings, 1, &seeds, settings(Algorithm::Em), None, &device);
    let best_k1 = k1
        .iter()
        .map(|r| r.objective)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!((best_k1 - -1521060.9540).abs() < 1e-4, "K=1 best {best_k1}");

    let k12 = restarts(&ratings, 12, &seeds, settings(Algorithm::Em), None, &device);
    for (run, expected) in k12.iter().zip(K12_PER_SEED) {
        assert!(
            (run.objective - expected).abs() < 1e-4,
            "K=12 seed {}: {}",
            run.seed,
            run.objective
        );
    }
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn netflix_flex_and_ndarray_agree() {
    let ratings =
        read_matrix(&netflix_dir().join("netflix_incomplete.txt"), Some(0.0)).expect(NEEDS_DATA);
    let seeds = [0, 1, 2, 3, 4];
    let flex = restarts(
        &ratings,
        12,
        &seeds,
        settings(Algorithm::Em),
        None,
        &device("flex"),
    );
    let ndarray = restarts(
        &ratings,
        12,
        &seeds,
        settings(Algorithm::Em),
        None,
        &device("ndarray"),
    );
    for (a, b) in flex.iter().zip(&ndarray) {
        let relative = (a.objective - b.objective).abs() / b.objective.abs();
        assert!(
            relative < 1e-6,
            "seed {}: flex {} vs ndarray {}",
            a.seed,
            a.objective,
            b.objective
        );
        assert_eq!(a.iterations, b.iterations, "seed {}", a.seed);
        assert_close("mu", &a.mixture.mu, &b.mixture.mu, 1e-6);
    }
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn chunked_and_sparse_em_match_dense_on_netflix() {
    let ratings =
        read_matrix(&netflix_dir().join("netflix_incomplete.txt"), Some(0.0)).expect(NEEDS_DATA);
    let device = device("flex");
    let dense = restarts(&ratings, 12, &[1], settings(Algorithm::Em), None, &device).remove(0);
    assert_close("dense LL", &[dense.objective], &[-1390234.4223], 1e-10);
    for (chunk, layout) in [
        (Some(128), Layout::Dense),
        (None, Layout::Sparse),
        (Some(500), Layout::Sparse),
    ] {
        let other = restarts_in(
            &ratings,
            12,
            &[1],
            settings(Algorithm::Em),
            chunk,
            layout,
            &device,
        )
        .remove(0);
        let label = format!("{layout:?} blocks of {chunk:?} users");
        assert_eq!(dense.iterations, other.iterations, "{label}");
        let relative = (dense.objective - other.objective).abs() / dense.objective.abs();
        assert!(
            relative < 1e-12,
            "{label}: dense {} vs {}",
            dense.objective,
            other.objective
        );
        assert_close(
            &format!("{label} mu"),
            &other.mixture.mu,
            &dense.mixture.mu,
            1e-9,
        );
        assert_close(
            &format!("{label} var"),
            &other.mixture.var,
            &dense.mixture.var,
            1e-9,
        );
    }
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn netflix_run_exports_best_restart() {
    let dir = netflix_dir();
    let out = tempfile::tempdir().unwrap();
    let metrics = common_mixture_run::train(
        "netflix-k12.toml",
        &dir,
        out.path(),
        &["output.completed_matrix=false"],
    );
    let lls: Vec<f64> = metrics["restart_log_likelihoods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_close("restart_log_likelihoods", &lls, &K12_PER_SEED, 1e-10);
    assert_eq!(metrics["best_seed"], 1);
    assert_eq!(metrics["iterations"], 27);

    // The exported mixture, reloaded and scored again, gives the reported model log-likelihood.
    let saved = GaussianMixture::load(&out.path().join("mixture.safetensors")).unwrap();
    let ratings = read_matrix(&dir.join("netflix_incomplete.txt"), Some(0.0)).unwrap();
    let block = Block::upload(&ratings, 0, ratings.users, Layout::Dense, &device("flex"));
    let (_, rescored, _) = first_e_step(&block, &saved);
    let reported = metrics["model_log_likelihood"].as_f64().unwrap();
    assert!(
        (rescored - reported).abs() <= 1e-9 * reported.abs(),
        "{rescored} vs {reported}"
    );
    assert!(reported >= metrics["log_likelihood"].as_f64().unwrap());
}

#[test]
#[ignore = "needs real data: set TRAINLAB_DATA=<path to shared data> and pass --ignored"]
fn zero_tolerance_converges_without_warning() {
    // With tolerance 0 EM runs until the log-likelihood stops rising, and the last change on
    // the worked example is rounding noise of about 1e-14, which is no decrease to report.
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("run");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trainlab"))
        .args([
            "train",
            "configs/mixture/worked-example.toml",
            "--progress",
            "plain",
        ])
        .args(["--set", &format!("data.dir={}", netflix_dir().display())])
        .args([
            "--set",
            "train.tolerance=0.0",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("went from"), "{stderr}");
}
