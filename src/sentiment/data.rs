//! Readers for the review TSVs, the 2-D point files, order files and stopword lists.
//!
//! Every reader is split into `read_*(path)` and `parse_*(bytes, source)` so tests can feed
//! byte strings. Errors are input errors that name the file, the line and the value.

use std::path::Path;

use crate::bail_input;
use crate::error::input_error;

use super::config::Encoding;

/// One labeled review: the label is +1 or -1.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub label: f64,
    pub text: String,
}

/// One labeled point of a `points` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: f64,
    pub coordinates: Vec<f64>,
}

/// Names of the label and text columns of a review TSV, and its encoding.
#[derive(Debug, Clone)]
pub struct ReviewColumns<'a> {
    pub label: &'a str,
    pub text: &'a str,
    pub encoding: Encoding,
}

/// Reads a labeled review TSV.
pub fn read_reviews(path: &Path, columns: &ReviewColumns) -> anyhow::Result<Vec<Review>> {
    let bytes = read_file(path, "review file")?;
    parse_reviews(&bytes, &path.display().to_string(), columns)
}

/// Reads a whole file, naming it and its role when that fails.
pub fn read_file(path: &Path, role: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        input_error(format!(
            "cannot read {role} {}: {e}; check data.dir and the file name",
            path.display()
        ))
    })
}

/// Parses a review TSV: a header row, tab separators and CSV quoting (`""` in quoted fields).
pub fn parse_reviews(
    bytes: &[u8],
    source: &str,
    columns: &ReviewColumns,
) -> anyhow::Result<Vec<Review>> {
    let table = parse_table(bytes, source, columns.encoding)?;
    let label_at = column_index(&table, source, columns.label)?;
    let text_at = column_index(&table, source, columns.text)?;
    let mut reviews = Vec::with_capacity(table.rows.len());
    for (line, fields) in &table.rows {
        let label = parse_label(&fields[label_at], source, *line)?;
        reviews.push(Review {
            label,
            text: fields[text_at].clone(),
        });
    }
    Ok(reviews)
}

/// A decoded TSV: the header and each row with the line it starts on.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Parses a TSV with a header row into decoded fields; every row must have the header's width.
pub fn parse_table(bytes: &[u8], source: &str, encoding: Encoding) -> anyhow::Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| input_error(format!("cannot parse {source}: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        let fields = decode_record(&record, source, line, encoding)?;
        match &header {
            None => header = Some(fields),
            Some(names) if names.len() != fields.len() => bail_input!(
                "{source}:{line}: ragged row with {} fields where the header has {}; \
                 check for a stray tab or an unclosed quote",
                fields.len(),
                names.len()
            ),
            Some(_) => rows.push((line, fields)),
        }
    }
    let Some(header) = header else {
        bail_input!("{source} is empty; expected a header row and at least one review")
    };
    if rows.is_empty() {
        bail_input!("{source} has a header row but no reviews")
    }
    Ok(Table { header, rows })
}

fn decode_record(
    record: &csv::ByteRecord,
    source: &str,
    line: u64,
    encoding: Encoding,
) -> anyhow::Result<Vec<String>> {
    record
        .iter()
        .map(|field| decode(field, source, line, encoding))
        .collect()
}

/// Decodes one field. Latin-1 maps each byte to the code point of the same value.
pub fn decode(bytes: &[u8], source: &str, line: u64, encoding: Encoding) -> anyhow::Result<String> {
    match encoding {
        // ASCII reads the same in both encodings, and most fields are pure ASCII.
        Encoding::Latin1 if bytes.is_ascii() => Ok(String::from_utf8_lossy(bytes).into_owned()),
        Encoding::Latin1 => Ok(bytes.iter().map(|&b| b as char).collect()),
        Encoding::Utf8 => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_string()),
            Err(e) => {
                let byte = bytes[e.valid_up_to()];
                bail_input!(
                    "{source}:{line}: invalid UTF-8 (byte 0x{byte:02X}); the course's review \
                     files are Latin-1, so set data.encoding = \"latin1\""
                )
            }
        },
    }
}

fn column_index(table: &Table, source: &str, name: &str) -> anyhow::Result<usize> {
    match table.header.iter().position(|column| column.trim() == name) {
        Some(index) => Ok(index),
        None => bail_input!(
            "{source}:1: missing column '{name}'; the header has: {}; set data.label_column or \
             data.text_column to one of them",
            table.header.join(", ")
        ),
    }
}

fn parse_label(text: &str, source: &str, line: u64) -> anyhow::Result<f64> {
    match text.trim() {
        "1" | "+1" => Ok(1.0),
        "-1" => Ok(-1.0),
        other => bail_input!("{source}:{line}: invalid label '{other}'; expected +1 or -1"),
    }
}

/// Reads a headerless points file: `label<TAB>x1<TAB>x2...` per line.
pub fn read_points(path: &Path) -> anyhow::Result<Vec<Point>> {
    let bytes = read_file(path, "points file")?;
    parse_points(
        &String::from_utf8_lossy(&bytes),
        &path.display().to_string(),
    )
}

/// Parses points: whitespace-separated numbers, the first the label, every line the same width.
pub fn parse_points(text: &str, source: &str) -> anyhow::Result<Vec<Point>> {
    let mut points: Vec<Point> = Vec::new();
    for (index, row) in text.lines().enumerate() {
        let line = index as u64 + 1;
        let fields: Vec<&str> = row.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 2 {
            bail_input!("{source}:{line}: expected a label and at least one coordinate")
        }
        let label = parse_label(fields[0], source, line)?;
        let coordinates = fields[1..]
            .iter()
            .map(|field| parse_number(field, source, line))
            .collect::<anyhow::Result<Vec<f64>>>()?;
        if let Some(first) = points.first()
            && first.coordinates.len() != coordinates.len()
        {
            bail_input!(
                "{source}:{line}: ragged row with {} coordinates where earlier rows have {}",
                coordinates.len(),
                first.coordinates.len()
            )
        }
        points.push(Point { label, coordinates });
    }
    if points.is_empty() {
        bail_input!("{source} is empty; expected rows of label<TAB>x1<TAB>x2")
    }
    Ok(points)
}

fn parse_number(field: &str, source: &str, line: u64) -> anyhow::Result<f64> {
    match field.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => bail_input!("{source}:{line}: invalid number '{field}'"),
    }
}

/// Reads an order file: comma-separated indices that must be a permutation of `0..n`.
pub fn read_order(path: &Path, n: usize) -> anyhow::Result<Vec<usize>> {
    let bytes = read_file(path, "order file")?;
    parse_order(
        &String::from_utf8_lossy(&bytes),
        &path.display().to_string(),
        n,
    )
}

/// Parses an order file for a training set of `n` samples.
pub fn parse_order(text: &str, source: &str, n: usize) -> anyhow::Result<Vec<usize>> {
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let fields = text
        .split([',', '\n', '\r', ' ', '\t'])
        .filter(|f| !f.is_empty());
    for (position, field) in fields.enumerate() {
        let Ok(index) = field.parse::<usize>() else {
            bail_input!("{source}: entry {position} '{field}' is not a sample index")
        };
        if index >= n {
            bail_input!(
                "{source}: entry {position} is {index}, but the training set has {n} samples \
                 (indices 0 to {}); use the order file made for this training set",
                n.saturating_sub(1)
            )
        }
        if std::mem::replace(&mut seen[index], true) {
            bail_input!("{source}: entry {position} repeats index {index}")
        }
        order.push(index);
    }
    if order.len() != n {
        bail_input!(
            "{source} lists {} indices, but the training set has {n} samples; every sample \
             must appear once",
            order.len()
        )
    }
    Ok(order)
}

/// Reads a stopword list: one word a line, blank lines ignored.
pub fn read_stopwords(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = read_file(path, "stopwords file")?;
    let text: String = bytes.iter().map(|&b| b as char).collect();
    Ok(text
        .lines()
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: ReviewColumns = ReviewColumns {
        label: "sentiment",
        text: "text",
        encoding: Encoding::Latin1,
    };

    fn error_of(result: anyhow::Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", result.unwrap_err())
    }

    #[test]
    fn reviews_parse_quotes_and_latin1() {
        let bytes = b"sentiment\tid\ttext\n1\ta\t\"say \"\"hi\"\"\tnow\"\n-1\tb\tcaf\xe9\n";
        let reviews = parse_reviews(bytes, "r.tsv", &COLUMNS).unwrap();
        assert_eq!(reviews.len(), 2);
        assert_eq!(reviews[0].text, "say \"hi\"\tnow");
        assert_eq!(reviews[0].label, 1.0);
        assert_eq!(reviews[1].text, "caf\u{e9}");
        assert_eq!(reviews[1].label, -1.0);
    }

    #[test]
    fn utf8_rejects_latin1_byte() {
        let columns = ReviewColumns {
            encoding: Encoding::Utf8,
            ..COLUMNS
        };
        let err = error_of(parse_reviews(
            b"sentiment\ttext\n1\tok\n1\tcaf\xe9\n",
            "r.tsv",
            &columns,
        ));
        assert!(err.contains("r.tsv:3"), "{err}");
        assert!(err.contains("0xE9"), "{err}");
    }

    #[test]
    fn bad_label_names_line() {
        let err = error_of(parse_reviews(
            b"sentiment\ttext\n1\tok\n0\tmeh\n",
            "r.tsv",
            &COLUMNS,
        ));
        assert!(err.contains("r.tsv:3"), "{err}");
        assert!(err.contains("'0'"), "{err}");
    }

    #[test]
    fn missing_column_lists_header() {
        let err = error_of(parse_reviews(b"label\ttext\n1\tok\n", "r.tsv", &COLUMNS));
        assert!(err.contains("missing column 'sentiment'"), "{err}");
        assert!(err.contains("label, text"), "{err}");
    }

    #[test]
    fn ragged_row_rejected() {
        let err = error_of(parse_reviews(
            b"sentiment\ttext\n1\tok\textra\n",
            "r.tsv",
            &COLUMNS,
        ));
        assert!(err.contains("r.tsv:2"), "{err}");
        assert!(err.contains("ragged"), "{err}");
    }

    #[test]
    fn empty_file_rejected() {
        assert!(error_of(parse_reviews(b"", "r.tsv", &COLUMNS)).contains("empty"));
        let err = error_of(parse_reviews(b"sentiment\ttext\n", "r.tsv", &COLUMNS));
        assert!(err.contains("no reviews"), "{err}");
    }

    #[test]
    fn empty_review_text_accepted() {
        let reviews = parse_reviews(b"sentiment\ttext\n1\t\n-1\t   \n", "r.tsv", &COLUMNS);
        assert_eq!(reviews.unwrap().len(), 2);
    }

    #[test]
    fn points_parse_and_reject_ragged() {
        let points = parse_points("-1\t1.5\t0.4\n1\t-2\t3\n", "p.tsv").unwrap();
        assert_eq!(points[1].coordinates, vec![-2.0, 3.0]);
        let err = error_of(parse_points("-1\t1\t2\n1\t3\n", "p.tsv"));
        assert!(err.contains("p.tsv:2"), "{err}");
    }

    #[test]
    fn order_must_be_permutation() {
        assert_eq!(parse_order("2,0,1\n", "o.txt", 3).unwrap(), vec![2, 0, 1]);
        assert!(error_of(parse_order("0,1,3", "o.txt", 3)).contains("is 3"));
        assert!(error_of(parse_order("0,1,1", "o.txt", 3)).contains("repeats index 1"));
        assert!(error_of(parse_order("0,1", "o.txt", 3)).contains("lists 2 indices"));
    }
}
