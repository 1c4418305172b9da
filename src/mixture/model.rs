//! The fitted mixture on the host: parameters, BIC, and the safetensors file it is saved as.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use safetensors::tensor::{Dtype, TensorView};

/// A mixture of K spherical Gaussians in d dimensions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaussianMixture {
    pub k: usize,
    pub d: usize,
    /// Component means, row-major `[K, d]`.
    pub mu: Vec<f64>,
    /// Component variances `[K]`, one per component (spherical covariance).
    pub var: Vec<f64>,
    /// Mixing weights `[K]`, summing to 1.
    pub p: Vec<f64>,
}

impl GaussianMixture {
    /// Number of free parameters: K·d means, K variances and K − 1 weights.
    pub fn free_parameters(&self) -> usize {
        self.k * self.d + self.k + self.k - 1
    }

    /// Returns BIC = LL − (p/2)·ln n for `n` users; larger is better in this convention.
    pub fn bic(&self, log_likelihood: f64, users: usize) -> f64 {
        log_likelihood - self.free_parameters() as f64 / 2.0 * (users as f64).ln()
    }

    /// Returns the mean of component `j`.
    pub fn mean(&self, j: usize) -> &[f64] {
        &self.mu[j * self.d..(j + 1) * self.d]
    }

    /// Returns the first non-finite parameter as `(name, component)`, if any.
    pub fn first_non_finite(&self) -> Option<(&'static str, usize)> {
        let component = |values: &[f64], width: usize| {
            values
                .iter()
                .position(|v| !v.is_finite())
                .map(|i| i / width)
        };
        if let Some(j) = component(&self.mu, self.d.max(1)) {
            return Some(("mu", j));
        }
        if let Some(j) = component(&self.var, 1) {
            return Some(("var", j));
        }
        component(&self.p, 1).map(|j| ("p", j))
    }

    /// Saves `mu` `[K, d]`, `var` `[K]` and `p` `[K]` as f64 tensors in safetensors format.
    pub fn to_safetensors(&self) -> anyhow::Result<Vec<u8>> {
        let bytes =
            |values: &[f64]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        let (mu, var, p) = (bytes(&self.mu), bytes(&self.var), bytes(&self.p));
        let tensors = [
            (
                "mu",
                TensorView::new(Dtype::F64, vec![self.k, self.d], &mu)?,
            ),
            ("var", TensorView::new(Dtype::F64, vec![self.k], &var)?),
            ("p", TensorView::new(Dtype::F64, vec![self.k], &p)?),
        ];
        let metadata = HashMap::from([("format".to_string(), "trainlab-mixture".to_string())]);
        Ok(safetensors::serialize(tensors, &Some(metadata))?)
    }

    /// Reads a mixture written by [`GaussianMixture::to_safetensors`].
    pub fn load(path: &Path) -> anyhow::Result<GaussianMixture> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the mixture file {}", path.display()))?;
        let file = safetensors::SafeTensors::deserialize(&bytes)
            .with_context(|| format!("{} is not a safetensors file", path.display()))?;
        let read = |name: &str| -> anyhow::Result<(Vec<usize>, Vec<f64>)> {
            let view = file
                .tensor(name)
                .with_context(|| format!("{} has no tensor '{name}'", path.display()))?;
            anyhow::ensure!(
                view.dtype() == Dtype::F64,
                "{}: tensor '{name}' is {:?}, expected F64",
                path.display(),
                view.dtype()
            );
            let values = view
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8 bytes")))
                .collect();
            Ok((view.shape().to_vec(), values))
        };
        let (shape, mu) = read("mu")?;
        let (_, var) = read("var")?;
        let (_, p) = read("p")?;
        anyhow::ensure!(
            shape.len() == 2 && var.len() == shape[0] && p.len() == shape[0],
            "{}: inconsistent shapes: mu {shape:?}, var [{}], p [{}]",
            path.display(),
            var.len(),
            p.len()
        );
        Ok(GaussianMixture {
            k: shape[0],
            d: shape[1],
            mu,
            var,
            p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bic_counts_free_parameters() {
        let mixture = GaussianMixture {
            k: 3,
            d: 2,
            mu: vec![0.0; 6],
            var: vec![1.0; 3],
            p: vec![1.0 / 3.0; 3],
        };
        assert_eq!(mixture.free_parameters(), 11);
        let expected = -100.0 - 5.5 * 250f64.ln();
        assert!((mixture.bic(-100.0, 250) - expected).abs() < 1e-12);
    }

    #[test]
    fn safetensors_round_trip() {
        let mixture = GaussianMixture {
            k: 2,
            d: 3,
            mu: vec![1.0, 2.0, 3.0, 4.0, 5.0, 0.1 + 0.2],
            var: vec![0.25, 1.5],
            p: vec![0.4, 0.6],
        };
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("mixture.safetensors");
        std::fs::write(&path, mixture.to_safetensors().unwrap()).unwrap();
        assert_eq!(GaussianMixture::load(&path).unwrap(), mixture);
    }
}
