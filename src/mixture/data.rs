//! Rating matrices: the dense text format, sparse triplets, and the in-memory row store.
//!
//! Every reader checks each field and reports bad input as `file:line: message` with the value
//! it found. Ratings are kept row by row (compressed sparse rows), so a matrix with mostly
//! missing entries costs memory only for its observed ratings.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::bail_input;

/// A users × items matrix of observed ratings, stored as compressed sparse rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratings {
    pub users: usize,
    pub items: usize,
    /// `row_start[u]..row_start[u + 1]` indexes user `u`'s ratings; length `users + 1`.
    pub row_start: Vec<usize>,
    /// Item (column) of each observed rating, increasing within a row.
    pub item: Vec<u32>,
    pub value: Vec<f64>,
}

impl Ratings {
    /// Builds the store from rows of `(item, rating)` pairs sorted by item.
    pub fn from_rows(items: usize, rows: Vec<Vec<(u32, f64)>>) -> Ratings {
        let mut row_start = Vec::with_capacity(rows.len() + 1);
        let mut item = Vec::new();
        let mut value = Vec::new();
        row_start.push(0);
        for row in &rows {
            for &(column, rating) in row {
                item.push(column);
                value.push(rating);
            }
            row_start.push(item.len());
        }
        Ratings {
            users: rows.len(),
            items,
            row_start,
            item,
            value,
        }
    }

    pub fn observed(&self) -> usize {
        self.value.len()
    }

    /// Users without a single observed rating.
    pub fn empty_users(&self) -> usize {
        self.row_start.windows(2).filter(|w| w[0] == w[1]).count()
    }

    /// Returns one user's `(items, ratings)`.
    pub fn row(&self, user: usize) -> (&[u32], &[f64]) {
        let range = self.row_start[user]..self.row_start[user + 1];
        (&self.item[range.clone()], &self.value[range])
    }

    /// Returns users `start..end` as dense rows of `2·items` values: the ratings with 0 at
    /// missing entries, then the 0/1 observed mask.
    pub fn dense_with_mask(&self, start: usize, end: usize) -> Vec<f64> {
        let width = 2 * self.items;
        let mut rows = vec![0.0; (end - start) * width];
        for user in start..end {
            let (items, ratings) = self.row(user);
            let offset = (user - start) * width;
            for (&column, &rating) in items.iter().zip(ratings) {
                rows[offset + column as usize] = rating;
                rows[offset + self.items + column as usize] = 1.0;
            }
        }
        rows
    }

    /// Returns one user's ratings as a dense row, 0 at missing entries.
    pub fn dense_row(&self, user: usize) -> Vec<f64> {
        let mut row = vec![0.0; self.items];
        let (items, ratings) = self.row(user);
        for (&column, &rating) in items.iter().zip(ratings) {
            row[column as usize] = rating;
        }
        row
    }

    /// Returns every entry as a dense row-major vector, `missing` where no rating is observed.
    pub fn to_dense_with(&self, missing: f64) -> Vec<f64> {
        let mut dense = vec![missing; self.users * self.items];
        for user in 0..self.users {
            let (items, ratings) = self.row(user);
            for (&column, &rating) in items.iter().zip(ratings) {
                dense[user * self.items + column as usize] = rating;
            }
        }
        dense
    }
}

/// Reads a dense text matrix from a file. `missing` marks missing entries; `None` means every
/// entry is a rating.
pub fn read_matrix(path: &Path, missing: Option<f64>) -> anyhow::Result<Ratings> {
    let text = read_text(path)?;
    parse_matrix(&path.display().to_string(), &text, missing)
}

/// Reads a dense matrix in which every entry must be present (for RMSE), row-major.
pub fn read_complete(path: &Path) -> anyhow::Result<(usize, usize, Vec<f64>)> {
    let ratings = read_matrix(path, None)?;
    Ok((ratings.users, ratings.items, ratings.value))
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) => bail_input!(
            "cannot read {}: {error}; check data.dir and the file name (relative names are \
             joined to data.dir)",
            path.display()
        ),
    }
}

/// Parses a dense matrix: whitespace-separated numbers, one user a line. Blank lines at the
/// end are ignored; a blank line between users is an error because it would shift every
/// later user.
pub fn parse_matrix(source: &str, text: &str, missing: Option<f64>) -> anyhow::Result<Ratings> {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut width = None;
    let mut rows = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        let fields = parse_fields(source, number, line)?;
        let expected = *width.get_or_insert(fields.len());
        if fields.is_empty() {
            bail_input!("{source}:{number}: empty line; every line must hold one user's ratings");
        }
        if fields.len() != expected {
            bail_input!(
                "{source}:{number}: {} values, but line 1 has {expected}; every user needs one \
                 value per item",
                fields.len()
            );
        }
        rows.push(observed_entries(&fields, missing));
    }
    if rows.is_empty() {
        bail_input!("{source}: no ratings; the file is empty");
    }
    Ok(Ratings::from_rows(width.unwrap_or(0), rows))
}

fn parse_fields(source: &str, number: usize, line: &str) -> anyhow::Result<Vec<f64>> {
    let mut fields = Vec::new();
    for (column, field) in line.split_whitespace().enumerate() {
        fields.push(parse_rating(source, number, column + 1, field)?);
    }
    Ok(fields)
}

fn parse_rating(source: &str, line: usize, column: usize, field: &str) -> anyhow::Result<f64> {
    match field.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => bail_input!(
            "{source}:{line}: column {column} is '{field}', which is not finite; ratings must \
             be finite numbers"
        ),
        Err(_) => {
            bail_input!("{source}:{line}: column {column} is '{field}', which is not a number")
        }
    }
}

fn observed_entries(fields: &[f64], missing: Option<f64>) -> Vec<(u32, f64)> {
    fields
        .iter()
        .enumerate()
        .filter(|(_, value)| missing != Some(**value))
        .map(|(column, value)| (column as u32, *value))
        .collect()
}

/// A triplet file mapped onto rows and columns, with the original ids in order of first
/// appearance so predictions can be reported under them.
pub struct Triplets {
    pub ratings: Ratings,
    pub user_ids: Vec<String>,
    pub item_ids: Vec<String>,
}

/// Reads `user,item,rating` triplets (tab-separated for `.tsv` files). A first line whose
/// rating field is not a number is taken as a header.
pub fn read_triplets(path: &Path, missing: Option<f64>) -> anyhow::Result<Triplets> {
    let text = read_text(path)?;
    let tab = path.extension().is_some_and(|e| e == "tsv");
    parse_triplets(&path.display().to_string(), &text, tab, missing)
}

#[derive(Default)]
struct IdMap {
    ids: Vec<String>,
    index: HashMap<String, u32>,
}

impl IdMap {
    fn get_or_insert(&mut self, id: &str) -> u32 {
        if let Some(&index) = self.index.get(id) {
            return index;
        }
        let index = self.ids.len() as u32;
        self.ids.push(id.to_string());
        self.index.insert(id.to_string(), index);
        index
    }
}

/// Parses triplets from text; see [`read_triplets`].
pub fn parse_triplets(
    source: &str,
    text: &str,
    tab: bool,
    missing: Option<f64>,
) -> anyhow::Result<Triplets> {
    let separator = if tab { '\t' } else { ',' };
    let (mut users, mut items) = (IdMap::default(), IdMap::default());
    let mut rows: Vec<Vec<(u32, f64)>> = Vec::new();
    let mut seen: HashMap<(u32, u32), usize> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(separator).map(str::trim).collect();
        if fields.len() != 3 {
            bail_input!(
                "{source}:{number}: {} fields, expected 3 (user{separator}item{separator}rating)",
                fields.len()
            );
        }
        if number == 1 && fields[2].parse::<f64>().is_err() {
            continue;
        }
        let rating = parse_rating(source, number, 3, fields[2])?;
        if missing == Some(rating) {
            bail_input!(
                "{source}:{number}: rating {rating} equals data.missing_value, so it would read \
                 as missing; set data.missing_value to a value no rating takes"
            );
        }
        let user = users.get_or_insert(fields[0]);
        let item = items.get_or_insert(fields[1]);
        if let Some(first) = seen.insert((user, item), number) {
            bail_input!(
                "{source}:{number}: user '{}' rated item '{}' again (first on line {first}); \
                 keep one rating per pair",
                fields[0],
                fields[1]
            );
        }
        if rows.len() <= user as usize {
            rows.resize(user as usize + 1, Vec::new());
        }
        rows[user as usize].push((item, rating));
    }
    if rows.is_empty() {
        bail_input!("{source}: no ratings; the file holds no triplets");
    }
    for row in &mut rows {
        row.sort_by_key(|&(item, _)| item);
    }
    Ok(Triplets {
        ratings: Ratings::from_rows(items.ids.len(), rows),
        user_ids: users.ids,
        item_ids: items.ids,
    })
}

/// Formats a dense row-major matrix in the text format the readers accept.
pub fn format_matrix(items: usize, values: &[f64]) -> String {
    let mut text = String::with_capacity(values.len() * 8);
    for row in values.chunks(items.max(1)) {
        let mut first = true;
        for value in row {
            if !first {
                text.push(' ');
            }
            first = false;
            // Display of f64 is the shortest text that reads back to the same number.
            let _ = write!(text, "{value}");
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: anyhow::Result<Ratings>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn matrix_keeps_observed_entries() {
        let ratings = parse_matrix("m.txt", "1 0 3\n0 0 0\n5 4 0\n", Some(0.0)).unwrap();
        assert_eq!(ratings.users, 3);
        assert_eq!(ratings.items, 3);
        assert_eq!(ratings.observed(), 4);
        assert_eq!(ratings.empty_users(), 1);
        assert_eq!(ratings.row(2), (&[0u32, 1][..], &[5.0, 4.0][..]));
    }

    #[test]
    fn ragged_row_names_line() {
        let err = message(parse_matrix("m.txt", "1 2 3\n4 5\n", Some(0.0)));
        assert!(err.contains("m.txt:2"), "{err}");
        assert!(err.contains("2 values"), "{err}");
    }

    #[test]
    fn non_numeric_field_names_value() {
        let err = message(parse_matrix("m.txt", "1 2\n3 x4\n", Some(0.0)));
        assert!(err.contains("m.txt:2"), "{err}");
        assert!(err.contains("'x4'"), "{err}");
    }

    #[test]
    fn nan_and_infinity_rejected() {
        for bad in ["NaN", "inf", "-infinity"] {
            let err = message(parse_matrix("m.txt", &format!("1 {bad}\n"), Some(0.0)));
            assert!(err.contains("m.txt:1"), "{err}");
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn blank_line_between_users_rejected() {
        let err = message(parse_matrix("m.txt", "1 2\n\n3 4\n", Some(0.0)));
        assert!(err.contains("m.txt:2: empty line"), "{err}");
    }

    #[test]
    fn triplets_map_ids_in_order() {
        let text = "user,item,rating\nu9,m1,4\nu2,m7,5\nu9,m7,3\n";
        let triplets = parse_triplets("r.csv", text, false, Some(0.0)).unwrap();
        assert_eq!(triplets.user_ids, vec!["u9", "u2"]);
        assert_eq!(triplets.item_ids, vec!["m1", "m7"]);
        assert_eq!(triplets.ratings.row(0), (&[0u32, 1][..], &[4.0, 3.0][..]));
    }

    #[test]
    fn triplet_equal_to_marker_rejected() {
        let err = parse_triplets("r.tsv", "a\tb\t0\n", true, Some(0.0))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("r.tsv:1"), "{err}");
        assert!(err.contains("data.missing_value"), "{err}");
    }

    #[test]
    fn duplicate_triplet_rejected() {
        let err = parse_triplets("r.csv", "a,b,1\na,b,2\n", false, Some(0.0))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("r.csv:2"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn formatted_matrix_reads_back() {
        let values = [1.5, 2.0, 0.1 + 0.2, 4.0];
        let text = format_matrix(2, &values);
        let ratings = parse_matrix("c.txt", &text, None).unwrap();
        assert_eq!(ratings.value, values.to_vec());
    }
}
