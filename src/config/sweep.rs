//! Expands a `[sweep]` table of lists into the grid of overrides it describes.

use toml::Value;

use super::{ConfigError, Override};

/// One grid point: the overrides that turn the base config into this point's config.
pub type SweepPoint = Vec<Override>;

/// Expands `[sweep]` into grid points, the last key varying fastest.
///
/// A key is either dotted (`model.lambda`) or a bare name (`lambda`) that appears in exactly
/// one section of `resolved`, the base config with every default filled in.
pub fn expand_sweep(sweep: &toml::Table, resolved: &Value) -> Result<Vec<SweepPoint>, ConfigError> {
    let mut axes = Vec::new();
    for (name, values) in sweep {
        let key = full_key(name, resolved)?;
        let Some(values) = values.as_array().filter(|v| !v.is_empty()) else {
            return Err(ConfigError(format!(
                "invalid value for 'sweep.{name}': expected a non-empty list like [1, 5, 10]"
            )));
        };
        axes.push((name.clone(), key, values.clone()));
    }
    let mut points: Vec<SweepPoint> = vec![Vec::new()];
    for (name, key, values) in &axes {
        let mut next = Vec::with_capacity(points.len() * values.len());
        for point in &points {
            for value in values {
                let mut point = point.clone();
                point.push(Override {
                    key: key.clone(),
                    value: value.clone(),
                    origin: format!("[sweep] {name} = {value}"),
                });
                next.push(point);
            }
        }
        points = next;
    }
    Ok(points)
}

fn full_key(name: &str, resolved: &Value) -> Result<String, ConfigError> {
    if name.contains('.') {
        let (section, leaf) = name.split_once('.').expect("checked for a dot");
        let exists = resolved.get(section).and_then(|s| s.get(leaf)).is_some();
        if !exists {
            return Err(ConfigError(format!("unknown key '{name}' in [sweep]")));
        }
        return Ok(name.to_string());
    }
    let Some(table) = resolved.as_table() else {
        return Err(ConfigError("the config is not a table".into()));
    };
    let matches: Vec<String> = table
        .iter()
        .filter(|(section, value)| *section != "sweep" && value.get(name).is_some())
        .map(|(section, _)| format!("{section}.{name}"))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ConfigError(format!(
            "unknown key '{name}' in [sweep]; use a key of this config such as model.epochs"
        ))),
        many => Err(ConfigError(format!(
            "ambiguous key '{name}' in [sweep]: it matches {}; write the full dotted key",
            many.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_order_last_key_fastest() {
        let resolved: Value = toml::from_str("[model]\nepochs = 1\nlambda = 0.1\n").unwrap();
        let sweep: toml::Table = toml::from_str("epochs = [1, 5]\nlambda = [0.1, 1.0]").unwrap();
        let points = expand_sweep(&sweep, &resolved).unwrap();
        assert_eq!(points.len(), 4);
        assert_eq!(points[1][0].key, "model.epochs");
        assert_eq!(points[1][1].value, Value::Float(1.0));
        assert_eq!(points[2][0].value, Value::Integer(5));
    }

    #[test]
    fn unknown_sweep_key_rejected() {
        let resolved: Value = toml::from_str("[model]\nepochs = 1\n").unwrap();
        let sweep: toml::Table = toml::from_str("epoch = [1]").unwrap();
        assert!(
            expand_sweep(&sweep, &resolved)
                .unwrap_err()
                .0
                .contains("unknown key 'epoch'")
        );
    }
}
