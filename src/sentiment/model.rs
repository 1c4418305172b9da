//! The linear classifier as a Burn module, and sparse batches it scores on a device.

use burn::module::{Module, Param};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

use super::features::SparseMatrix;
use super::online::LinearWeights;

/// A linear classifier: predicts +1 when θ·x + θ0 > 0, else −1.
#[derive(Module, Debug)]
pub struct LinearClassifier {
    /// Weights, shape `[dim]` (one per dictionary word or point coordinate).
    pub theta: Param<Tensor<1>>,
    /// Offset, shape `[1]`.
    pub theta0: Param<Tensor<1>>,
}

/// Sparse rows copied to a device once, to be scored many times.
///
/// # Shapes
/// `indices`, `values` and `rows` are `[nnz]`: entry k is `values[k]` in column `indices[k]`
/// of row `rows[k]`.
#[derive(Debug, Clone)]
pub struct SparseBatch {
    pub indices: Tensor<1, Int>,
    pub values: Tensor<1>,
    pub rows: Tensor<1, Int>,
    /// Number of rows, some of which may be empty.
    pub len: usize,
    pub nnz: usize,
}

impl SparseBatch {
    /// Copies the rows `range` of `features` to `device`.
    pub fn new(features: &SparseMatrix, range: std::ops::Range<usize>, device: &Device) -> Self {
        let entries = features.offsets[range.start]..features.offsets[range.end];
        let indices: Vec<i64> = features.indices[entries.clone()]
            .iter()
            .map(|&j| j as i64)
            .collect();
        let values = features.values[entries].to_vec();
        let mut rows = Vec::with_capacity(indices.len());
        for (local, row) in range.clone().enumerate() {
            let count = features.offsets[row + 1] - features.offsets[row];
            rows.extend(std::iter::repeat_n(local as i64, count));
        }
        let nnz = indices.len();
        SparseBatch {
            indices: Tensor::from_data(TensorData::new(indices, [nnz]), device),
            values: Tensor::from_data(TensorData::new(values, [nnz]), device),
            rows: Tensor::from_data(TensorData::new(rows, [nnz]), device),
            len: range.len(),
            nnz,
        }
    }

    /// Copies every row of `features` to `device`.
    pub fn all(features: &SparseMatrix, device: &Device) -> Self {
        SparseBatch::new(features, 0..features.rows(), device)
    }
}

impl LinearClassifier {
    /// Creates a classifier with every weight zero.
    pub fn zeros(dim: usize, device: &Device) -> Self {
        LinearClassifier::from_weights(&LinearWeights::zeros(dim), device)
    }

    /// Copies plain weights to `device`, in the device's float precision.
    pub fn from_weights(weights: &LinearWeights, device: &Device) -> Self {
        let dim = weights.theta.len();
        let theta = TensorData::new(weights.theta.clone(), [dim]);
        let theta0 = TensorData::new(vec![weights.theta0], [1]);
        LinearClassifier {
            theta: Param::from_tensor(Tensor::from_data(theta, device)),
            theta0: Param::from_tensor(Tensor::from_data(theta0, device)),
        }
    }

    /// Reads the weights back as f64.
    pub fn weights(&self) -> LinearWeights {
        LinearWeights {
            theta: to_f64_vec(self.theta.val()),
            theta0: to_f64_vec(self.theta0.val())[0],
        }
    }

    pub fn dim(&self) -> usize {
        self.theta.dims()[0]
    }

    /// Returns θ·x + θ0 for every row of the batch.
    ///
    /// # Shapes
    /// returns `[batch.len]`
    pub fn scores(&self, batch: &SparseBatch) -> Tensor<1> {
        let device = self.theta.device();
        let offset = self.theta0.val().expand([batch.len]);
        if batch.nnz == 0 {
            return offset;
        }
        let products = self.theta.val().select(0, batch.indices.clone()) * batch.values.clone();
        let dots = Tensor::<1>::zeros([batch.len], &device).select_assign(
            0,
            batch.rows.clone(),
            products,
            IndexingUpdateOp::Add,
        );
        dots + offset
    }

    /// Returns +1 or −1 per row.
    pub fn predict(&self, batch: &SparseBatch) -> Vec<f64> {
        to_f64_vec(self.scores(batch))
            .into_iter()
            .map(label_of)
            .collect()
    }

    /// Returns the fraction of rows whose predicted label equals `labels`.
    pub fn accuracy(&self, batch: &SparseBatch, labels: &[f64]) -> f64 {
        let predicted = self.predict(batch);
        let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
        correct as f64 / labels.len().max(1) as f64
    }
}

/// Reads a tensor back to the host as f64, whatever the device precision.
pub fn to_f64_vec(tensor: Tensor<1>) -> Vec<f64> {
    let data = tensor.into_data().convert::<f64>();
    data.try_into_vec::<f64>()
        .expect("data converted to f64 reads back as f64")
}

/// Maps a score to the predicted label: +1 only for a strictly positive score.
pub fn label_of(score: f64) -> f64 {
    if score > 0.0 { 1.0 } else { -1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendChoice;
    use crate::config::Precision;

    fn device() -> Device {
        BackendChoice::new("flex", 0, Precision::F32)
            .unwrap()
            .device(0)
            .unwrap()
    }

    #[test]
    fn scores_match_sparse_dot() {
        let device = device();
        let mut features = SparseMatrix::new(4);
        features.push_row(&[(0, 1.0), (3, 2.0)]);
        features.push_row(&[]);
        features.push_row(&[(1, -1.0), (3, 1.0)]);
        let weights = LinearWeights {
            theta: vec![0.5, 2.0, -7.0, 1.0],
            theta0: -1.0,
        };
        let model = LinearClassifier::from_weights(&weights, &device);
        let batch = SparseBatch::all(&features, &device);
        assert_eq!(to_f64_vec(model.scores(&batch)), vec![1.5, -1.0, -2.0]);
        assert_eq!(model.predict(&batch), vec![1.0, -1.0, -1.0]);
    }

    #[test]
    fn empty_batch_scores_offset() {
        let device = device();
        let mut features = SparseMatrix::new(2);
        features.push_row(&[]);
        let model = LinearClassifier::zeros(2, &device);
        let batch = SparseBatch::all(&features, &device);
        assert_eq!(model.predict(&batch), vec![-1.0]);
    }

    #[test]
    fn weights_round_trip() {
        let weights = LinearWeights {
            theta: vec![0.25, -3.0],
            theta0: 4.0,
        };
        let model = LinearClassifier::from_weights(&weights, &device());
        assert_eq!(model.weights(), weights);
        assert_eq!(model.dim(), 2);
    }
}
