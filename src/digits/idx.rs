//! IDX files (the MNIST format), raw or gzip-compressed, checked byte by byte.
//!
//! An IDX file is a big-endian header (magic number, then one u32 per dimension) followed by
//! unsigned bytes. Images use magic 2051 with dimensions `[count, rows, cols]`; labels use
//! magic 2049 with `[count]`. Every error names the file and the offending index or offset.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Side length of an MNIST image in pixels.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

const IMAGE_MAGIC: u32 = 2051;
const LABEL_MAGIC: u32 = 2049;

/// A problem with an IDX file's bytes.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: the gzip stream is truncated or corrupt after {decoded} decompressed bytes \
         ({source}); download the file again"
    )]
    Gzip {
        path: PathBuf,
        decoded: usize,
        source: std::io::Error,
    },
    #[error("{path}: {len} bytes is too short for an IDX {kind} header of {needed} bytes")]
    ShortHeader {
        path: PathBuf,
        kind: &'static str,
        len: usize,
        needed: usize,
    },
    #[error(
        "{path}: wrong magic number {found} (0x{found:08x}) at byte offset 0; an IDX {kind} \
         file starts with {expected} (0x{expected:08x}){hint}"
    )]
    Magic {
        path: PathBuf,
        kind: &'static str,
        found: u32,
        expected: u32,
        hint: &'static str,
    },
    #[error(
        "{path}: images are {rows}x{cols} (header bytes 8 to 15), expected {SIDE}x{SIDE}; \
         resize them to 28x28 first"
    )]
    Shape { path: PathBuf, rows: u32, cols: u32 },
    #[error(
        "{path}: the header at byte offset 4 declares {count} {kind}s, which need {expected} \
         bytes after the {header}-byte header, but the file has {actual}; the file is \
         truncated or its header is wrong"
    )]
    Count {
        path: PathBuf,
        kind: &'static str,
        count: usize,
        header: usize,
        expected: usize,
        actual: usize,
    },
    #[error("{path}: label {label} at index {index} (byte offset {offset}) is outside 0 to 9")]
    Label {
        path: PathBuf,
        label: u8,
        index: usize,
        offset: usize,
    },
    #[error(
        "{images} holds {image_count} images but {labels} holds {label_count} labels; pair each \
         image file with its own label file"
    )]
    Mismatch {
        images: PathBuf,
        image_count: usize,
        labels: PathBuf,
        label_count: usize,
    },
    #[error("{path}: item range [{start}, {end}) goes past its {count} items")]
    Range {
        path: PathBuf,
        start: usize,
        end: usize,
        count: usize,
    },
}

/// Images as bytes, row-major, `PIXELS` per image.
#[derive(Debug, Clone)]
pub struct Images {
    /// Shape `[count, 28, 28]`, flattened.
    pub pixels: Vec<u8>,
}

impl Images {
    pub fn count(&self) -> usize {
        self.pixels.len() / PIXELS
    }

    /// The bytes of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * PIXELS..(index + 1) * PIXELS]
    }
}

/// Reads a whole file and inflates it when it starts with the gzip magic bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, IdxError> {
    let raw = std::fs::read(path).map_err(|source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut decoded = Vec::with_capacity(raw.len() * 4);
    let mut decoder = flate2::read::GzDecoder::new(raw.as_slice());
    match decoder.read_to_end(&mut decoded) {
        Ok(_) => Ok(decoded),
        Err(source) => Err(IdxError::Gzip {
            path: path.to_path_buf(),
            decoded: decoded.len(),
            source,
        }),
    }
}

fn be_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

fn check_magic(
    path: &Path,
    bytes: &[u8],
    kind: &'static str,
    expected: u32,
) -> Result<(), IdxError> {
    let needed = if expected == IMAGE_MAGIC { 16 } else { 8 };
    if bytes.len() < needed {
        return Err(IdxError::ShortHeader {
            path: path.to_path_buf(),
            kind,
            len: bytes.len(),
            needed,
        });
    }
    let found = be_u32(bytes, 0);
    if found == expected {
        return Ok(());
    }
    let hint = match found {
        IMAGE_MAGIC => "; this is an image file, so check the *_images and *_labels keys",
        LABEL_MAGIC => "; this is a label file, so check the *_images and *_labels keys",
        _ => "; the file is not an (uncompressed or gzip) IDX file",
    };
    Err(IdxError::Magic {
        path: path.to_path_buf(),
        kind,
        found,
        expected,
        hint,
    })
}

fn check_count(
    path: &Path,
    kind: &'static str,
    bytes: &[u8],
    header: usize,
    item_size: usize,
) -> Result<usize, IdxError> {
    let count = be_u32(bytes, 4) as usize;
    let actual = bytes.len() - header;
    if count * item_size != actual {
        return Err(IdxError::Count {
            path: path.to_path_buf(),
            kind,
            count,
            header,
            expected: count * item_size,
            actual,
        });
    }
    Ok(count)
}

/// Parses an IDX image file's bytes.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<Images, IdxError> {
    check_magic(path, bytes, "image", IMAGE_MAGIC)?;
    let (rows, cols) = (be_u32(bytes, 8), be_u32(bytes, 12));
    if rows as usize != SIDE || cols as usize != SIDE {
        return Err(IdxError::Shape {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    check_count(path, "image", bytes, 16, PIXELS)?;
    Ok(Images {
        pixels: bytes[16..].to_vec(),
    })
}

/// Parses an IDX label file's bytes and checks every label is a digit.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    check_magic(path, bytes, "label", LABEL_MAGIC)?;
    check_count(path, "label", bytes, 8, 1)?;
    let labels = &bytes[8..];
    if let Some(index) = labels.iter().position(|&label| label > 9) {
        return Err(IdxError::Label {
            path: path.to_path_buf(),
            label: labels[index],
            index,
            offset: 8 + index,
        });
    }
    Ok(labels.to_vec())
}

/// Reads an IDX image file.
pub fn read_images(path: &Path) -> Result<Images, IdxError> {
    parse_images(path, &read_bytes(path)?)
}

/// Reads an IDX label file.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    parse_labels(path, &read_bytes(path)?)
}

/// Reads an image file and its label file, checks they pair up, and keeps items
/// `[start, end)` (`end = None` keeps the rest).
pub fn read_pair(
    images_path: &Path,
    labels_path: &Path,
    start: usize,
    end: Option<usize>,
) -> Result<(Images, Vec<u8>), IdxError> {
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    if images.count() != labels.len() {
        return Err(IdxError::Mismatch {
            images: images_path.to_path_buf(),
            image_count: images.count(),
            labels: labels_path.to_path_buf(),
            label_count: labels.len(),
        });
    }
    let end_index = end.unwrap_or(labels.len());
    if end_index > labels.len() || start >= end_index {
        return Err(IdxError::Range {
            path: images_path.to_path_buf(),
            start,
            end: end_index,
            count: labels.len(),
        });
    }
    let pixels = images.pixels[start * PIXELS..end_index * PIXELS].to_vec();
    Ok((Images { pixels }, labels[start..end_index].to_vec()))
}

/// Encodes images as an uncompressed IDX file, for tests and tools.
pub fn encode_images(pixels: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + pixels.len());
    for value in [IMAGE_MAGIC, count as u32, SIDE as u32, SIDE as u32] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an uncompressed IDX file, for tests and tools.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABEL_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> PathBuf {
        PathBuf::from("x.idx")
    }

    #[test]
    fn labels_round_trip() {
        let labels = parse_labels(&path(), &encode_labels(&[0, 9, 3])).unwrap();
        assert_eq!(labels, vec![0, 9, 3]);
    }

    #[test]
    fn label_ten_names_index() {
        let err = parse_labels(&path(), &encode_labels(&[1, 2, 10])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("label 10 at index 2"), "{text}");
        assert!(text.contains("byte offset 10"), "{text}");
    }

    #[test]
    fn wrong_magic_names_offset() {
        let mut bytes = encode_labels(&[1]);
        bytes[3] = 7;
        let text = parse_labels(&path(), &bytes).unwrap_err().to_string();
        assert!(text.contains("wrong magic number"), "{text}");
        assert!(text.contains("x.idx"), "{text}");
    }

    #[test]
    fn image_file_as_labels_hinted() {
        let bytes = encode_images(&[0; PIXELS], 1);
        let text = parse_labels(&path(), &bytes).unwrap_err().to_string();
        assert!(text.contains("this is an image file"), "{text}");
    }

    #[test]
    fn count_mismatch_reported() {
        let mut bytes = encode_images(&[0; 2 * PIXELS], 2);
        bytes.truncate(bytes.len() - 5);
        let text = parse_images(&path(), &bytes).unwrap_err().to_string();
        assert!(text.contains("declares 2 images"), "{text}");
    }

    #[test]
    fn non_28_images_rejected() {
        let mut bytes = encode_images(&[0; PIXELS], 1);
        bytes[11] = 32;
        let text = parse_images(&path(), &bytes).unwrap_err().to_string();
        assert!(text.contains("32x28"), "{text}");
    }

    #[test]
    fn range_past_end_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = (dir.path().join("i"), dir.path().join("l"));
        std::fs::write(&images, encode_images(&[0; 3 * PIXELS], 3)).unwrap();
        std::fs::write(&labels, encode_labels(&[1, 2, 3])).unwrap();
        let (kept, kept_labels) = read_pair(&images, &labels, 1, Some(3)).unwrap();
        assert_eq!(kept.count(), 2);
        assert_eq!(kept_labels, vec![2, 3]);
        let text = read_pair(&images, &labels, 1, Some(4))
            .unwrap_err()
            .to_string();
        assert!(text.contains("[1, 4) goes past its 3 items"), "{text}");
    }

    #[test]
    fn short_header_rejected() {
        let text = parse_images(&path(), &[0, 0, 8]).unwrap_err().to_string();
        assert!(text.contains("too short"), "{text}");
    }
}
