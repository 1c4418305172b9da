//! `predict` and `evaluate` for a trained sentiment run, using its saved dictionary and weights.

use std::io::Read;
use std::path::Path;

use burn::tensor::Device;
use serde_json::json;

use super::config::{DataFormat, DataSourceParams, SentimentConfig, SentimentParams};
use super::data::{self, ReviewColumns};
use super::dataset::Split;
use super::features::Dictionary;
use super::model::{LinearClassifier, SparseBatch, to_f64_vec};
use super::outputs;
use crate::backend::BackendChoice;
use crate::bail_input;
use crate::cli::PredictArgs;
use crate::config::{ConfigDoc, Precision, resolve};
use crate::experiment::Metrics;
use crate::run::RunDir;

/// A trained run loaded for inference.
pub struct Trained {
    pub params: SentimentParams,
    pub dictionary: Dictionary,
    pub model: LinearClassifier,
}

/// Loads the run's config, dictionary and weights on the backend the run used.
pub fn load_trained(run: &RunDir, doc: &ConfigDoc) -> anyhow::Result<Trained> {
    let resolved = resolve::<SentimentConfig>(doc)?;
    if resolved.checked.data.format == DataFormat::Points {
        bail_input!(
            "{} was trained on points (data.format = \"points\"); predict and evaluate work on \
             review runs, and the point run's θ and θ0 are in its summary.json",
            run.path().display()
        )
    }
    let device = run_device(&resolved.raw)?;
    let dictionary = outputs::load_dictionary(run)?;
    let model = outputs::load_model(run, dictionary.len(), &device)?;
    Ok(Trained {
        params: resolved.checked,
        dictionary,
        model,
    })
}

fn run_device(raw: &SentimentConfig) -> anyhow::Result<Device> {
    let precision = raw.backend.precision.unwrap_or(Precision::F32);
    let choice = BackendChoice::new(&raw.backend.name, raw.backend.device, precision)?;
    choice.device(raw.experiment.seed)
}

/// Reviews to classify, with their labels when the input has a label column.
struct Inputs {
    texts: Vec<String>,
    labels: Option<Vec<f64>>,
}

/// Classifies `--text` reviews or an `--input` file and prints or writes label and score.
pub fn predict(run: &RunDir, doc: &ConfigDoc, args: &PredictArgs) -> anyhow::Result<()> {
    reject_other_inputs(args)?;
    let trained = load_trained(run, doc)?;
    let inputs = gather_inputs(&trained.params, args)?;
    let kind = trained.params.features.kind;
    let features = trained
        .dictionary
        .featurize(inputs.texts.iter().map(String::as_str), kind);
    let device = trained.model.theta.device();
    let batch = SparseBatch::all(&features, &device);
    let scores = to_f64_vec(trained.model.scores(&batch));
    let table = render_predictions(&inputs.texts, &scores);
    match &args.output {
        Some(path) => crate::run::write_atomic(path, table.as_bytes())?,
        None => print!("{table}"),
    }
    if let Some(labels) = &inputs.labels {
        let correct = scores
            .iter()
            .zip(labels)
            .filter(|(s, y)| super::model::label_of(**s) == **y)
            .count();
        let accuracy = correct as f64 / labels.len() as f64;
        println!(
            "accuracy {accuracy:.6} ({correct} of {} labeled reviews)",
            labels.len()
        );
    }
    Ok(())
}

fn reject_other_inputs(args: &PredictArgs) -> anyhow::Result<()> {
    if !args.images.is_empty() || args.ratings.is_some() || args.invert {
        bail_input!(
            "a sentiment run classifies reviews: pass --text \"...\" or --input FILE \
             (images, --ratings and --invert belong to other families)"
        )
    }
    if args.text.is_empty() && args.input.is_none() {
        bail_input!("nothing to classify: pass --text \"a review\" (repeatable) or --input FILE")
    }
    Ok(())
}

fn gather_inputs(params: &SentimentParams, args: &PredictArgs) -> anyhow::Result<Inputs> {
    let mut inputs = Inputs {
        texts: args.text.clone(),
        labels: None,
    };
    if let Some(path) = &args.input {
        let file = read_input_file(params, path)?;
        if args.text.is_empty() {
            return Ok(file);
        }
        inputs.texts.extend(file.texts);
    }
    Ok(inputs)
}

/// Reads a review TSV (when its first line names the text column) or one review per line.
fn read_input_file(params: &SentimentParams, path: &Path) -> anyhow::Result<Inputs> {
    let (bytes, source) = read_input_bytes(path)?;
    let data = &params.data;
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let header = data::decode(first_line, &source, 1, data.encoding)?;
    if header.split('\t').any(|c| c.trim() == data.text_column) {
        table_inputs(params, &bytes, &source)
    } else {
        line_inputs(params, &bytes, &source)
    }
}

/// Reads the whole input, from standard input when `path` is `-`.
fn read_input_bytes(path: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    if path.as_os_str() != "-" {
        let bytes = data::read_file(path, "input file")?;
        return Ok((bytes, path.display().to_string()));
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| crate::error::input_error(format!("cannot read standard input: {e}")))?;
    Ok((bytes, "standard input".to_string()))
}

fn line_inputs(params: &SentimentParams, bytes: &[u8], source: &str) -> anyhow::Result<Inputs> {
    let encoding = params.data.encoding;
    let mut texts = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        texts.push(data::decode(line, source, index as u64 + 1, encoding)?);
    }
    // A final newline ends the last review rather than starting an empty one.
    if bytes.ends_with(b"\n") {
        texts.pop();
    }
    Ok(Inputs {
        texts,
        labels: None,
    })
}

/// Reads a review TSV; labels are kept only when every row has a valid ±1 label, because a
/// file such as the course's submission set has a label column with meaningless values.
fn table_inputs(params: &SentimentParams, bytes: &[u8], source: &str) -> anyhow::Result<Inputs> {
    let data = &params.data;
    let table = data::parse_table(bytes, source, data.encoding)?;
    let column = |name: &str| table.header.iter().position(|c| c.trim() == name);
    let text_at = column(&data.text_column).expect("the first line names the text column");
    let texts = table
        .rows
        .iter()
        .map(|(_, row)| row[text_at].clone())
        .collect();

    let label_of_field = |field: &str| match field.trim() {
        "1" | "+1" => Some(1.0),
        "-1" => Some(-1.0),
        _ => None,
    };
    let labels = column(&data.label_column).and_then(|at| {
        table
            .rows
            .iter()
            .map(|(_, row)| label_of_field(&row[at]))
            .collect::<Option<Vec<f64>>>()
    });
    Ok(Inputs { texts, labels })
}

fn render_predictions(texts: &[String], scores: &[f64]) -> String {
    let mut table = String::from("label\tscore\ttext\n");
    for (text, score) in texts.iter().zip(scores) {
        let label = if super::model::label_of(*score) > 0.0 {
            "+1"
        } else {
            "-1"
        };
        let flat: String = text
            .chars()
            .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
            .collect();
        table.push_str(&format!("{label}\t{score:.6}\t{flat}\n"));
    }
    table
}

/// Scores the saved model on the data files of the run's config (after `--set` overrides),
/// featurized with the saved dictionary.
pub fn evaluate(run: &RunDir, doc: &ConfigDoc) -> anyhow::Result<Metrics> {
    let trained = load_trained(run, doc)?;
    let DataSourceParams::Files(files) = &trained.params.data.source else {
        bail_input!(
            "{} was trained on synthetic reviews; evaluate it on files with \
             --set data.source=files --set data.val=FILE",
            run.path().display()
        )
    };
    let mut metrics = Metrics::new();
    let sets = [
        ("train_accuracy", Some(&files.train)),
        ("val_accuracy", files.val.as_ref()),
        ("test_accuracy", files.test.as_ref()),
    ];
    for (key, path) in sets {
        if let Some(path) = path {
            let split = featurize_file(&trained, path)?;
            let batch = SparseBatch::all(&split.features, &trained.model.theta.device());
            metrics.insert(
                key.into(),
                json!(trained.model.accuracy(&batch, &split.labels)),
            );
        }
    }
    metrics.insert("dictionary_size".into(), json!(trained.dictionary.len()));
    Ok(metrics)
}

fn featurize_file(trained: &Trained, path: &Path) -> anyhow::Result<Split> {
    let data = &trained.params.data;
    let columns = ReviewColumns {
        label: &data.label_column,
        text: &data.text_column,
        encoding: data.encoding,
    };
    let reviews = data::read_reviews(path, &columns)?;
    let texts = reviews.iter().map(|r| r.text.as_str());
    Ok(Split {
        features: trained
            .dictionary
            .featurize(texts, trained.params.features.kind),
        labels: reviews.iter().map(|r| r.label).collect(),
    })
}
