//! The course tokenizer, the dictionary and sparse bag-of-words feature vectors.

use std::collections::{HashMap, HashSet};

use super::config::FeatureKind;

/// Splits text into words the way the MIT 6.86x project does: a space on each side of every
/// ASCII punctuation character and digit, lower-case, then split on (Unicode) whitespace.
pub fn extract_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for_each_word(text, |word| words.push(word.to_string()));
    words
}

/// Calls `visit` with each word of [`extract_words`] without allocating a string per word.
///
/// Lower-casing first and then cutting gives the same words as the course's order (cut, then
/// lower-case), because lower-casing never turns a character into, or out of, ASCII
/// punctuation, an ASCII digit or whitespace.
pub fn for_each_word(text: &str, mut visit: impl FnMut(&str)) {
    let lower = text.to_lowercase();
    let mut start = None;
    for (at, c) in lower.char_indices() {
        let single = c.is_ascii_punctuation() || c.is_ascii_digit();
        if single || c.is_whitespace() {
            if let Some(begin) = start.take() {
                visit(&lower[begin..at]);
            }
            if single {
                visit(&lower[at..at + 1]);
            }
        } else if start.is_none() {
            start = Some(at);
        }
    }
    if let Some(begin) = start {
        visit(&lower[begin..]);
    }
}

/// Words of the training texts in order of first appearance; a word's index is its feature.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    words: Vec<String>,
    index: HashMap<String, usize>,
}

impl Dictionary {
    /// Builds the dictionary from training texts, leaving out `stopwords`.
    pub fn build<'a>(texts: impl Iterator<Item = &'a str>, stopwords: &HashSet<String>) -> Self {
        let mut dictionary = Dictionary::default();
        for text in texts {
            for_each_word(text, |word| {
                if !stopwords.contains(word) && !dictionary.index.contains_key(word) {
                    dictionary.push(word.to_string());
                }
            });
        }
        dictionary
    }

    /// Builds a dictionary from words already in index order, as saved in a run folder.
    pub fn from_words(words: impl Iterator<Item = String>) -> Self {
        let mut dictionary = Dictionary::default();
        for word in words {
            dictionary.push(word);
        }
        dictionary
    }

    fn push(&mut self, word: String) {
        self.index.insert(word.clone(), self.words.len());
        self.words.push(word);
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    pub fn get(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// Turns texts into sparse rows; words outside the dictionary are dropped, so a row may be
    /// empty.
    pub fn featurize<'a>(
        &self,
        texts: impl Iterator<Item = &'a str>,
        kind: FeatureKind,
    ) -> SparseMatrix {
        let mut matrix = SparseMatrix::new(self.len());
        let mut found: Vec<usize> = Vec::new();
        let mut row: Vec<(usize, f64)> = Vec::new();
        for text in texts {
            found.clear();
            for_each_word(text, |word| found.extend(self.get(word)));
            found.sort_unstable();
            row.clear();
            for &index in &found {
                match row.last_mut() {
                    Some((last, count)) if *last == index => *count += 1.0,
                    _ => row.push((index, 1.0)),
                }
            }
            if kind == FeatureKind::Binary {
                row.iter_mut().for_each(|entry| entry.1 = 1.0);
            }
            matrix.push_row(&row);
        }
        matrix
    }
}

/// Rows of (index, value) pairs in compressed sparse row form; no dense n x d matrix exists.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseMatrix {
    /// Number of columns (the dictionary size, or the point dimension).
    pub dim: usize,
    /// Row `i` owns entries `offsets[i]..offsets[i + 1]`; `offsets.len()` is rows + 1.
    pub offsets: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f64>,
}

impl SparseMatrix {
    pub fn new(dim: usize) -> Self {
        SparseMatrix {
            dim,
            offsets: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Builds a matrix from dense rows, keeping every entry (the 2-D toy points).
    pub fn from_dense(rows: &[Vec<f64>], dim: usize) -> Self {
        let mut matrix = SparseMatrix::new(dim);
        for row in rows {
            let entries: Vec<(usize, f64)> = row.iter().copied().enumerate().collect();
            matrix.push_row(&entries);
        }
        matrix
    }

    /// Appends a row of (column, value) entries with columns below `dim`.
    pub fn push_row(&mut self, entries: &[(usize, f64)]) {
        for &(index, value) in entries {
            debug_assert!(index < self.dim);
            self.indices.push(index as u32);
            self.values.push(value);
        }
        self.offsets.push(self.indices.len());
    }

    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Returns the indices and values of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let range = self.offsets[i]..self.offsets[i + 1];
        (&self.indices[range.clone()], &self.values[range])
    }

    /// Returns θ·x for row `i`.
    pub fn dot(&self, i: usize, theta: &[f64]) -> f64 {
        let (indices, values) = self.row(i);
        indices
            .iter()
            .zip(values)
            .map(|(&j, &v)| theta[j as usize] * v)
            .sum()
    }

    /// Copies the listed rows, in that order, into a new matrix.
    pub fn select_rows(&self, rows: &[usize]) -> SparseMatrix {
        let mut matrix = SparseMatrix::new(self.dim);
        for &i in rows {
            let (indices, values) = self.row(i);
            matrix.indices.extend_from_slice(indices);
            matrix.values.extend_from_slice(values);
            matrix.offsets.push(matrix.indices.len());
        }
        matrix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_splits_punctuation_and_digits() {
        assert_eq!(
            extract_words("It's GREAT!! Only $12.99"),
            vec![
                "it", "'", "s", "great", "!", "!", "only", "$", "1", "2", ".", "9", "9"
            ]
        );
    }

    #[test]
    fn tokenizer_treats_nbsp_as_whitespace() {
        assert_eq!(extract_words("good\u{a0}food"), vec!["good", "food"]);
    }

    #[test]
    fn tokenizer_empty_text_has_no_words() {
        assert!(extract_words("  \t ").is_empty());
    }

    #[test]
    fn dictionary_keeps_first_appearance_order() {
        let stop: HashSet<String> = ["the".to_string()].into();
        let dictionary = Dictionary::build(["The cat", "a cat, the dog"].into_iter(), &stop);
        assert_eq!(dictionary.words(), &["cat", "a", ",", "dog"]);
    }

    #[test]
    fn featurize_binary_and_counts() {
        let dictionary = Dictionary::from_words(["good", "bad"].map(String::from).into_iter());
        let texts = ["bad good good unknown", "", "nothing known"];
        let binary = dictionary.featurize(texts.into_iter(), FeatureKind::Binary);
        assert_eq!(binary.row(0), (&[0u32, 1][..], &[1.0, 1.0][..]));
        assert_eq!(binary.row(1).0.len(), 0);
        assert_eq!(binary.row(2).0.len(), 0);
        let counts = dictionary.featurize(texts.into_iter(), FeatureKind::Counts);
        assert_eq!(counts.row(0), (&[0u32, 1][..], &[2.0, 1.0][..]));
    }
}
