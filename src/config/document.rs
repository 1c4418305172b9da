//! A config file plus its overrides, with the source location of every key.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Value;

use super::{ConfigError, FieldError, Task};

/// One `section.key=value` override from `--set` or from a sweep grid point.
#[derive(Debug, Clone)]
pub struct Override {
    pub key: String,
    pub value: Value,
    /// The override as the user wrote it, for error messages: `--set train.seeds=[0]` or
    /// `[sweep] k = 3`.
    pub origin: String,
}

impl Override {
    /// Parses `section.key=value` as given to `--set`. The value is read as a TOML value, and
    /// one that is not valid TOML is taken as a string, so `data.dir=data/x` needs no quotes.
    pub fn parse(flag: &str) -> Result<Override, ConfigError> {
        let Some((key, text)) = flag.split_once('=') else {
            return Err(ConfigError(format!(
                "invalid --set '{flag}': expected section.key=value, e.g. --set train.epochs=5"
            )));
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|part| part.trim().is_empty()) {
            return Err(ConfigError(format!(
                "invalid --set '{flag}': the key '{key}' must be dotted names like train.epochs"
            )));
        }
        let value = parse_value(text.trim());
        Ok(Override {
            key: key.to_string(),
            value,
            origin: format!("--set {flag}"),
        })
    }
}

fn parse_value(text: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("value = {text}")) {
        Ok(mut table) => table
            .remove("value")
            .unwrap_or_else(|| Value::String(text.into())),
        Err(_) => Value::String(text.to_string()),
    }
}

/// A parsed config file with overrides applied, able to say where each key came from.
pub struct ConfigDoc {
    source: String,
    text: String,
    spans: Option<toml_edit::ImDocument<String>>,
    overrides: Vec<Override>,
    merged: Value,
}

impl ConfigDoc {
    /// Reads and parses a config file and applies `--set` overrides.
    pub fn load(path: &Path, overrides: Vec<Override>) -> Result<ConfigDoc, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        ConfigDoc::parse(&path.display().to_string(), &text, overrides)
    }

    /// Parses config text; `source` names it in error messages.
    pub fn parse(source: &str, text: &str, overrides: Vec<Override>) -> Result<Self, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start)).unwrap_or(1);
            ConfigError(format!(
                "invalid TOML at {source}:{line}: {}",
                e.message().trim()
            ))
        })?;
        let spans = toml_edit::ImDocument::parse(text.to_string()).ok();
        let mut doc = ConfigDoc {
            source: source.to_string(),
            text: text.to_string(),
            spans,
            overrides: Vec::new(),
            merged: Value::Table(table),
        };
        doc.apply(overrides)?;
        Ok(doc)
    }

    /// Returns a copy with more overrides applied on top, as a sweep does for each grid point.
    pub fn with_overrides(&self, overrides: Vec<Override>) -> Result<ConfigDoc, ConfigError> {
        let mut doc = ConfigDoc {
            source: self.source.clone(),
            text: self.text.clone(),
            spans: toml_edit::ImDocument::parse(self.text.clone()).ok(),
            overrides: self.overrides.clone(),
            merged: self.merged.clone(),
        };
        doc.apply(overrides)?;
        Ok(doc)
    }

    fn apply(&mut self, overrides: Vec<Override>) -> Result<(), ConfigError> {
        for item in overrides {
            insert_dotted(&mut self.merged, &item.key, item.value.clone())
                .map_err(|message| ConfigError(format!("invalid {}: {message}", item.origin)))?;
            self.overrides.push(item);
        }
        Ok(())
    }

    /// Returns the config file's name without extension, used for default experiment names.
    pub fn stem(&self) -> String {
        let path = PathBuf::from(&self.source);
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Returns the merged TOML tree (file plus overrides).
    pub fn value(&self) -> &Value {
        &self.merged
    }

    /// Reads `experiment.task`, which selects the family that validates the rest.
    pub fn task(&self) -> Result<Task, ConfigError> {
        let task = self.merged.get("experiment").and_then(|e| e.get("task"));
        let names: Vec<&str> = Task::ALL.iter().map(|t| t.as_str()).collect();
        let Some(task) = task else {
            return Err(ConfigError(format!(
                "missing key 'experiment.task' in {}; set it to one of: {}",
                self.source,
                names.join(", ")
            )));
        };
        let found = task
            .as_str()
            .and_then(|name| Task::ALL.into_iter().find(|t| t.as_str() == name));
        found.ok_or_else(|| {
            self.locate(FieldError::new(
                "experiment.task",
                format!(
                    "{task} is not a task; expected one of: {}",
                    names.join(", ")
                ),
            ))
        })
    }

    /// Deserializes the merged tree into a family's raw config struct, turning serde's messages
    /// into located errors with a suggestion for misspelled keys and values.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        serde_path_to_error::deserialize(self.merged.clone()).map_err(|err| {
            let path = path_string(err.path());
            let message = err.inner().to_string();
            self.serde_error(&path, &message)
        })
    }

    fn serde_error(&self, path: &str, message: &str) -> ConfigError {
        // The TOML deserializer appends lines such as "in model.epochs"; the key is named by
        // the located message already, so only the first line is kept.
        let message = message.lines().next().unwrap_or_default();
        if let Some(unknown) = quoted_after(message, "unknown field `") {
            let parent = path
                .strip_suffix(&unknown)
                .unwrap_or(path)
                .trim_end_matches('.');
            let key = join_key(parent, &unknown);
            let hint = suggestion(&unknown, &expected_names(message));
            return ConfigError(format!("unknown key '{key}' {}{hint}", self.where_is(&key)));
        }
        if let Some(missing) = quoted_after(message, "missing field `") {
            let key = join_key(path, &missing);
            return ConfigError(format!("missing key '{key}' in {}", self.source));
        }
        let mut text = plain_type_error(message);
        if let Some(variant) = quoted_after(message, "unknown variant `") {
            text.push_str(&suggestion(&variant, &expected_names(message)));
        }
        self.locate(FieldError::new(path, text))
    }

    /// Adds the location of `error.key` to its message.
    pub fn locate(&self, error: FieldError) -> ConfigError {
        ConfigError(format!(
            "invalid value for '{}' {}: {}",
            error.key,
            self.where_is(&error.key),
            error.message
        ))
    }

    /// Describes where a key was set: the last override that set it, else its file line.
    fn where_is(&self, key: &str) -> String {
        let overridden = self.overrides.iter().rev().find(|o| {
            key == o.key
                || key.starts_with(&format!("{}.", o.key))
                || o.key.starts_with(&format!("{key}."))
        });
        if let Some(item) = overridden {
            return format!("in {}", item.origin);
        }
        match self.line_of_key(key) {
            Some(line) => format!("at {}:{line}", self.source),
            None => format!("in {}", self.source),
        }
    }

    fn line_of_key(&self, key: &str) -> Option<usize> {
        let doc = self.spans.as_ref()?;
        let mut table: &dyn toml_edit::TableLike = doc.as_table();
        let mut best = None;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let part = part.split('[').next().unwrap_or(part);
            let (found_key, item) = table.get_key_value(part)?;
            let span = found_key.span().or_else(|| item.span());
            if let Some(span) = span {
                best = Some(line_of(&self.text, span.start));
            }
            if i + 1 < parts.len() {
                match item.as_table_like() {
                    Some(inner) => table = inner,
                    None => break,
                }
            }
        }
        best
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

fn join_key(parent: &str, leaf: &str) -> String {
    if parent.is_empty() || parent == "." {
        leaf.to_string()
    } else {
        format!("{parent}.{leaf}")
    }
}

/// Renders a serde path as dotted keys, with `[i]` for array items.
fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

/// Rewrites serde's "invalid type: floating point `2.5`, expected i64" as "expected an
/// integer, found floating point 2.5"; other messages pass through.
fn plain_type_error(message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.split_once(", expected ") else {
        return message.to_string();
    };
    let expected = match expected.trim() {
        e if ["i64", "u64", "usize", "i32", "u32", "u8"].contains(&e) => "an integer",
        e if ["f64", "f32"].contains(&e) => "a number",
        e if e.starts_with("struct ") || e.starts_with("a map") => "a table of keys",
        e if e.starts_with("a sequence") || e.starts_with("an array") => "a list such as [1, 2]",
        e if e.contains("bool") => "true or false",
        e => e,
    };
    format!("expected {expected}, found {}", found.replace('`', ""))
}

/// Extracts the backquoted name that follows `prefix` in a serde message.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// Returns the backquoted names after "expected" in a serde message.
fn expected_names(message: &str) -> Vec<String> {
    let Some(start) = message.find("expected") else {
        return Vec::new();
    };
    message[start..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Suggests the closest valid name, when one is close enough to be a likely typo.
fn suggestion(given: &str, valid: &[String]) -> String {
    let best = valid
        .iter()
        .map(|name| (strsim::damerau_levenshtein(given, name), name))
        .min_by_key(|(distance, _)| *distance);
    match best {
        Some((distance, name)) if distance <= (given.len() / 3).max(2) => {
            format!("; did you mean '{name}'?")
        }
        _ if !valid.is_empty() => format!("; valid here: {}", valid.join(", ")),
        _ => String::new(),
    }
}

/// Sets `a.b.c = value` in a TOML tree, creating tables on the way.
fn insert_dotted(root: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let mut node = root;
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    let (last, parents) = parts.split_last().expect("split always yields one part");
    for part in parents {
        let table = node
            .as_table_mut()
            .ok_or_else(|| format!("'{part}' is not a table"))?;
        node = table
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Default::default()));
    }
    let table = node
        .as_table_mut()
        .ok_or_else(|| format!("the parent of '{last}' is not a table"))?;
    table.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_value_reads_toml_or_string() {
        let plain = Override::parse("data.dir=data/reviews").unwrap();
        assert_eq!(plain.value, Value::String("data/reviews".into()));
        let quoted = Override::parse("data.dir=\"data/reviews\"").unwrap();
        assert_eq!(quoted.value, Value::String("data/reviews".into()));
        let array = Override::parse("train.seeds=[0]").unwrap();
        assert_eq!(array.value, Value::Array(vec![Value::Integer(0)]));
        let number = Override::parse("model.lambda=0.5").unwrap();
        assert_eq!(number.value, Value::Float(0.5));
    }

    #[test]
    fn set_without_equals_rejected() {
        let err = Override::parse("train.epochs").unwrap_err();
        assert!(err.0.contains("expected section.key=value"), "{}", err.0);
    }

    #[test]
    fn line_lookup_finds_nested_key() {
        let text = "[experiment]\ntask = \"digits\"\n\n[train]\nepochs = 3\nlearning_rate = 0.1\n";
        let doc = ConfigDoc::parse("x.toml", text, vec![]).unwrap();
        assert_eq!(doc.line_of_key("train.learning_rate"), Some(6));
        assert_eq!(doc.line_of_key("experiment.task"), Some(2));
    }

    #[test]
    fn type_error_reads_plainly() {
        let text = plain_type_error("invalid type: floating point `2.5`, expected i64");
        assert_eq!(text, "expected an integer, found floating point 2.5");
        let table = plain_type_error("invalid type: integer `3`, expected struct ModelSection");
        assert_eq!(table, "expected a table of keys, found integer 3");
    }

    #[test]
    fn suggestion_picks_close_name() {
        let valid = vec!["learning_rate".to_string(), "epochs".to_string()];
        assert_eq!(
            suggestion("learnig_rate", &valid),
            "; did you mean 'learning_rate'?"
        );
        assert!(suggestion("zzzzzzzzzz", &valid).starts_with("; valid here"));
    }
}
