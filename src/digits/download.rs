//! `data.source = "mnist"`: fetch the four MNIST files once into `data.dir`, then read them
//! as IDX files.
//!
//! `http://` mirrors are fetched with a small HTTP/1.1 client on the standard library. This
//! build has no TLS library, so `https://` mirrors are fetched with the `curl` program. A
//! download is checked against the announced length and by parsing it (60,000 training and
//! 10,000 test items) before it is renamed into place.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::config::DataParams;
use super::idx;
use crate::error::input_error;
use crate::experiment::data_path;

/// The MNIST file names and their item counts, in the order the config keys list them.
const FILES: [(&str, usize); 4] = [
    ("train-images-idx3-ubyte.gz", 60_000),
    ("train-labels-idx1-ubyte.gz", 60_000),
    ("t10k-images-idx3-ubyte.gz", 10_000),
    ("t10k-labels-idx1-ubyte.gz", 10_000),
];

/// Makes sure the four files the config names are in `data.dir`, downloading missing ones.
pub fn ensure_mnist(params: &DataParams) -> anyhow::Result<()> {
    let configured = [
        &params.train_images,
        &params.train_labels,
        &params.test_images,
        &params.test_labels,
    ];
    for ((remote, count), local) in FILES.iter().zip(configured) {
        let target = data_path(Path::new(&params.dir), local);
        if target.is_file() {
            continue;
        }
        let url = format!("{}{remote}", params.mirror);
        fetch_checked(&url, &target, *count).map_err(|e| {
            input_error(format!(
                "cannot download {url}: {e:#}. Offline, copy the four MNIST files ({}) into {} \
                 by hand, or use data.source = \"idx\"",
                FILES.map(|f| f.0).join(", "),
                params.dir
            ))
        })?;
    }
    Ok(())
}

fn fetch_checked(url: &str, target: &Path, count: usize) -> anyhow::Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let partial = PathBuf::from(format!("{}.part", target.display()));
    let bytes = if url.starts_with("http://") {
        http_get(url)?
    } else if url.starts_with("https://") {
        curl_get(url)?
    } else {
        anyhow::bail!("data.mirror must start with http:// or https://");
    };
    std::fs::write(&partial, &bytes)?;
    let items = if target.to_string_lossy().contains("images") {
        idx::read_images(&partial).map(|images| images.count())
    } else {
        idx::read_labels(&partial).map(|labels| labels.len())
    };
    let items = items.inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    if items != count {
        std::fs::remove_file(&partial)?;
        anyhow::bail!("invalid download: the file contains {items} items, expected {count}");
    }
    std::fs::rename(&partial, target)?;
    Ok(())
}

fn curl_get(url: &str) -> anyhow::Result<Vec<u8>> {
    let output = Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--location"])
        .args(["--max-time", "300", url])
        .output()
        .map_err(|e| anyhow::anyhow!("https needs the curl program, which failed to start: {e}"))?;
    if !output.status.success() {
        anyhow::bail!(
            "curl failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

/// Splits `http://host:port/path` into the address and the path.
fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((address, path.to_string()))
}

/// Sends a plain HTTP/1.1 GET and requires status 200 and a body of the announced length.
fn http_get(url: &str) -> anyhow::Result<Vec<u8>> {
    let (address, path) = split_url(url)?;
    let host = address.split(':').next().unwrap_or_default().to_string();
    let mut stream = TcpStream::connect(&address)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    // One write, so a server that responds after its first read gets the whole request.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: trainlab\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if status.split_whitespace().nth(1) != Some("200") {
        anyhow::bail!("the server responded '{}', expected 200", status.trim());
    }
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    if let Some(expected) = length
        && body.len() != expected
    {
        anyhow::bail!(
            "received {} bytes, the server announced {expected}",
            body.len()
        );
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_port_splits() {
        let (address, path) = split_url("http://127.0.0.1:8080/mnist/a.gz").unwrap();
        assert_eq!(address, "127.0.0.1:8080");
        assert_eq!(path, "/mnist/a.gz");
    }

    #[test]
    fn url_without_port_uses_80() {
        let (address, path) = split_url("http://example.invalid").unwrap();
        assert_eq!(address, "example.invalid:80");
        assert_eq!(path, "/");
    }
}
