//! The training run: load ratings, fit every restart, keep the best, complete and write outputs.

use serde_json::{Value, json};

use super::checkpoint::Checkpoint;
use super::complete::{Completion, CompletionRequest, complete, rmse};
use super::config::{Algorithm, MixtureParams, Source};
use super::data::{self, Ratings, format_matrix};
use super::fit::{
    Blocks, FitSettings, FitState, Progress, Restart, fit, initial_mixture, starting_rows,
};
use super::model::GaussianMixture;
use super::plot::mixture_svg;
use super::synthetic;
use crate::bail_input;
use crate::experiment::{Metrics, RunContext};
use crate::run::MetricsLog;

/// File name of the saved mixture inside a run folder.
pub const MIXTURE_FILE: &str = "mixture.safetensors";

/// Ratings ready to fit, with what came along with them.
pub struct Loaded {
    pub ratings: Ratings,
    /// The complete matrix, row-major `[users, items]`, when one is known.
    pub complete: Option<Vec<f64>>,
    /// Original user and item ids of a triplet file.
    pub ids: Option<(Vec<String>, Vec<String>)>,
}

/// Loads the configured ratings and, when given, the complete matrix.
pub fn load(params: &MixtureParams, seed: u64) -> anyhow::Result<Loaded> {
    let mut loaded = match &params.source {
        Source::Matrix(path) => Loaded {
            ratings: data::read_matrix(path, params.missing)?,
            complete: None,
            ids: None,
        },
        Source::Triplets(path) => {
            let triplets = data::read_triplets(path, params.missing)?;
            Loaded {
                ratings: triplets.ratings,
                complete: None,
                ids: Some((triplets.user_ids, triplets.item_ids)),
            }
        }
        Source::Synthetic(synthetic) => {
            let sample = synthetic::sample(synthetic, seed);
            Loaded {
                ratings: sample.ratings,
                complete: sample.complete,
                ids: None,
            }
        }
    };
    if let Some(path) = &params.complete {
        let (users, items, values) = data::read_complete(path)?;
        let expected = (loaded.ratings.users, loaded.ratings.items);
        if (users, items) != expected {
            bail_input!(
                "{} is {users} x {items}, but the ratings are {} x {}; data.complete must be the \
                 same matrix with every entry present",
                path.display(),
                expected.0,
                expected.1
            );
        }
        loaded.complete = Some(values);
    }
    if loaded.ratings.observed() == 0 {
        bail_input!(
            "the ratings have no observed entry ({} users x {} items, all missing), so there is \
             nothing to fit; check data.missing_value and that the file is the intended one",
            loaded.ratings.users,
            loaded.ratings.items
        );
    }
    Ok(loaded)
}

/// Trains the configured family member and writes its outputs into the run folder.
pub fn train(params: &MixtureParams, ctx: &RunContext) -> anyhow::Result<Metrics> {
    let loaded = load(params, ctx.seed)?;
    let ratings = &loaded.ratings;
    ctx.progress.line(&format!(
        "ratings: {} users x {} items, {} observed, {} users with none",
        ratings.users,
        ratings.items,
        ratings.observed(),
        ratings.empty_users()
    ));
    check_dense_outputs(params, ratings)?;
    let mut blocks = Blocks::new(
        ratings,
        params.chunk_users,
        params.layout.pick(ratings),
        &ctx.device,
    );
    let (restarts, fit_seconds) = run_restarts(params, &mut blocks, ctx)?;
    let best = best_restart(&restarts, params.algorithm);
    let completion = complete(
        &mut blocks,
        &best.mixture,
        completion_request(params, &loaded),
    )?;
    write_outputs(params, ctx, &loaded, best, &completion)?;
    let mut metrics = metrics(params, &loaded, &restarts, best, &completion);
    // Time of every restart's fit, without loading, completion or writing outputs.
    metrics.insert("fit_seconds".into(), json!(fit_seconds));
    Ok(metrics)
}

/// Most entries a completed matrix may have: 2^28 f64 values take 2 GiB in memory, and the
/// text file several more.
const MAX_COMPLETED_ENTRIES: usize = 1 << 28;

/// Rejects `output.completed_matrix` on a matrix too large to hold densely, before any fitting.
fn check_dense_outputs(params: &MixtureParams, ratings: &Ratings) -> anyhow::Result<()> {
    let entries = ratings.users.saturating_mul(ratings.items);
    if params.completed_matrix && entries > MAX_COMPLETED_ENTRIES {
        bail_input!(
            "output.completed_matrix would write {} x {} = {entries} entries, more than the \
             {MAX_COMPLETED_ENTRIES} entries trainlab writes as one dense matrix; set \
             output.completed_matrix = false and complete chosen users with trainlab predict",
            ratings.users,
            ratings.items
        );
    }
    Ok(())
}

fn objective_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Em => "log_likelihood",
        Algorithm::KMeans => "cost",
    }
}

/// Fits one restart per seed and returns them with the seconds spent fitting. With `--resume`,
/// restarts saved in the run's checkpoint are kept as they are, a restart saved mid-way
/// continues from its last saved iteration, and the seconds include the earlier processes'.
fn run_restarts(
    params: &MixtureParams,
    blocks: &mut Blocks,
    ctx: &RunContext,
) -> anyhow::Result<(Vec<Restart>, f64)> {
    let name = objective_name(params.algorithm);
    // `seconds`: time since this process began the restart, initialization included.
    let header = ["seed", "iteration", name, "seconds"];
    let (mut checkpoint, mut log) = if ctx.resume {
        let checkpoint = Checkpoint::load(&ctx.run, blocks.ratings(), params)?;
        let log = MetricsLog::resume(&ctx.run, &header, checkpoint.iterations())?;
        ctx.progress.line(&format!(
            "resuming: {} of {} restarts finished{}",
            checkpoint.finished.len(),
            params.seeds.len(),
            checkpoint
                .current
                .as_ref()
                .map_or(String::new(), |state| format!(
                    ", seed {} saved after iteration {}",
                    state.seed, state.iteration
                ))
        ));
        (checkpoint, log)
    } else {
        (
            Checkpoint::new(blocks.ratings(), params),
            MetricsLog::new(&ctx.run, &header),
        )
    };
    let settings = FitSettings {
        algorithm: params.algorithm,
        min_variance: params.min_variance,
        tolerance: params.tolerance,
        max_iterations: params.max_iterations,
    };
    for &seed in &params.seeds[checkpoint.finished.len()..] {
        let started = std::time::Instant::now();
        let from = match checkpoint.current.take() {
            Some(state) => state,
            None => {
                let rows = starting_rows(blocks, params.init_rows, seed, params.k)?;
                FitState::start(
                    seed,
                    initial_mixture(blocks.ratings(), &rows, params.min_variance),
                )
            }
        };
        let task = ctx
            .progress
            .task(&format!("seed {seed}"), params.max_iterations as u64);
        task.inc(from.iteration as u64);
        let mut hook = |progress: &Progress| {
            task.inc(1);
            let (iteration, objective) = (progress.iteration, progress.objective);
            let seconds = started.elapsed().as_secs_f64();
            tracing::debug!(
                "seed {seed} iteration {iteration}: {name} {objective} at {seconds:.3} s"
            );
            log.push(&[seed as f64, iteration as f64, objective, seconds])?;
            if !progress.done && checkpoint.due() {
                // Written first, so the log always covers the checkpoint's iterations.
                log.finish()?;
                checkpoint.save_current(&ctx.run, progress.state())?;
            }
            Ok(())
        };
        let restart = fit(blocks, from, settings, &mut hook)?;
        for warning in &restart.warnings {
            tracing::warn!("{warning}");
        }
        task.finish(&format!(
            "seed {seed}: {name} {:.4} after {} iterations{}",
            restart.objective,
            restart.iterations,
            if restart.converged {
                ""
            } else {
                " (train.max_iterations reached)"
            }
        ));
        log.finish()?;
        checkpoint.finish_restart(&ctx.run, restart)?;
    }
    log.finish()?;
    let seconds = checkpoint.total_fit_seconds();
    Ok((checkpoint.finished, seconds))
}

/// Returns the restart with the largest log-likelihood (EM) or smallest cost (K-means); ties keep the
/// earlier seed.
pub fn best_restart(restarts: &[Restart], algorithm: Algorithm) -> &Restart {
    let better = |a: f64, b: f64| match algorithm {
        Algorithm::Em => a > b,
        Algorithm::KMeans => a < b,
    };
    let mut best = &restarts[0];
    for restart in &restarts[1..] {
        if better(restart.objective, best.objective) {
            best = restart;
        }
    }
    best
}

fn completion_request(params: &MixtureParams, loaded: &Loaded) -> CompletionRequest {
    CompletionRequest {
        values: params.completed_matrix || loaded.complete.is_some(),
        labels: loaded.ratings.items == 2,
        hard_labels: params.algorithm == Algorithm::KMeans,
        clip: params.clip,
    }
}

fn write_outputs(
    params: &MixtureParams,
    ctx: &RunContext,
    loaded: &Loaded,
    best: &Restart,
    completion: &Completion,
) -> anyhow::Result<()> {
    ctx.run
        .write(MIXTURE_FILE, &best.mixture.to_safetensors()?)?;
    if let (true, Some(values)) = (params.completed_matrix, &completion.values) {
        let text = format_matrix(loaded.ratings.items, values);
        ctx.run.write("completed.txt", text.as_bytes())?;
    }
    if let Some((users, items)) = &loaded.ids {
        ctx.run
            .write_json("ids.json", &json!({ "users": users, "items": items }))?;
    }
    if let Some(labels) = &completion.labels {
        let points = loaded.ratings.to_dense_with(0.0);
        let title = format!("{} K = {}", objective_name(params.algorithm), params.k);
        let svg = mixture_svg(&title, &points, labels, &best.mixture);
        ctx.run.write("mixture.svg", svg.as_bytes())?;
    }
    Ok(())
}

fn metrics(
    params: &MixtureParams,
    loaded: &Loaded,
    restarts: &[Restart],
    best: &Restart,
    completion: &Completion,
) -> Metrics {
    let ratings = &loaded.ratings;
    let mut metrics = Metrics::new();
    let objectives: Vec<f64> = restarts.iter().map(|r| r.objective).collect();
    match params.algorithm {
        Algorithm::Em => {
            metrics.insert("log_likelihood".into(), json!(best.objective));
            metrics.insert(
                "bic".into(),
                json!(best.mixture.bic(best.objective, ratings.users)),
            );
            metrics.insert("restart_log_likelihoods".into(), json!(objectives));
        }
        Algorithm::KMeans => {
            metrics.insert("cost".into(), json!(best.objective));
            metrics.insert("restart_costs".into(), json!(objectives));
        }
    }

    metrics.insert("iterations".into(), json!(best.iterations));
    metrics.insert("best_seed".into(), json!(best.seed));
    metrics.insert(
        "model_log_likelihood".into(),
        json!(completion.log_likelihood),
    );
    insert_rmse(
        &mut metrics,
        ratings,
        loaded.complete.as_deref(),
        completion,
    );

    metrics.insert("k".into(), json!(params.k));
    metrics.insert("users".into(), json!(ratings.users));
    metrics.insert("items".into(), json!(ratings.items));
    metrics.insert("observed".into(), json!(ratings.observed()));
    metrics.insert("empty_users".into(), json!(ratings.empty_users()));
    let warnings: Vec<Value> = restarts
        .iter()
        .flat_map(|r| r.warnings.iter())
        .map(|w| json!(w))
        .collect();
    if !warnings.is_empty() {
        metrics.insert("warnings".into(), Value::Array(warnings));
    }
    metrics
}

fn insert_rmse(
    metrics: &mut Metrics,
    ratings: &Ratings,
    truth: Option<&[f64]>,
    completion: &Completion,
) {
    let (Some(truth), Some(values)) = (truth, &completion.values) else {
        return;
    };
    let missing = missing_mask(ratings);
    let (overall, over_missing) = rmse(values, truth, &missing);
    metrics.insert("rmse".into(), json!(overall));
    if let Some(value) = over_missing {
        metrics.insert("rmse_missing".into(), json!(value));
    }
}

/// Returns `true` at every entry without an observed rating, row-major.
pub fn missing_mask(ratings: &Ratings) -> Vec<bool> {
    let mut missing = vec![true; ratings.users * ratings.items];
    for user in 0..ratings.users {
        for &item in ratings.row(user).0 {
            missing[user * ratings.items + item as usize] = false;
        }
    }
    missing
}

/// Loads a run folder's mixture.
pub fn load_mixture(run: &crate::run::RunDir) -> anyhow::Result<GaussianMixture> {
    let path = run.file(MIXTURE_FILE);
    if !path.is_file() {
        bail_input!(
            "{} has no {MIXTURE_FILE}; the run did not finish, so train it again",
            run.path().display()
        );
    }
    GaussianMixture::load(&path)
}
