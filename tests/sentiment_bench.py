#!/usr/bin/env python3
"""Times full Pegasos training (T=25, lambda=0.01) on the 4000 course reviews three ways.

1. trainlab: the release binary on configs/sentiment/pegasos.toml, measured as the whole
   process (start, read, tokenize, train, score, write the run folder).
2. dense NumPy: the course's code as written, with a dense 4000 x 13234 feature matrix and
   one full-length vector update per sample.
3. sparse NumPy: the same updates on per-review index arrays, with theta kept as scale * w.

The NumPy timings cover read, tokenize, featurize and train (not the interpreter start).
Each variant runs --repeats times. The best wall time and the best CPU time (user + system) are
reported, with the validation accuracy as a check that all three trained the same model. CPU time
is the steadier figure on a shared, loaded machine.

Usage: python3 tests/sentiment_bench.py --data "$TRAINLAB_DATA/reviews" \
           --trainlab target/release/trainlab [--repeats 5]
Needs NumPy (pip install numpy).
"""

import argparse
import csv
import json
import pathlib
import resource
import string
import subprocess
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
EPOCHS = 25
LAMBDA = 0.01


def load(path):
    with open(path, encoding="latin1") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [row["text"] for row in rows], np.array([int(row["sentiment"]) for row in rows])


def extract_words(text):
    for c in string.punctuation + string.digits:
        text = text.replace(c, " " + c + " ")
    return text.lower().split()


def bag_of_words(texts):
    dictionary = {}
    for text in texts:
        for word in extract_words(text):
            if word not in dictionary:
                dictionary[word] = len(dictionary)
    return dictionary


def dense_features(texts, dictionary):
    matrix = np.zeros((len(texts), len(dictionary)))
    for i, text in enumerate(texts):
        for word in extract_words(text):
            if word in dictionary:
                matrix[i, dictionary[word]] = 1
    return matrix


def sparse_rows(texts, dictionary):
    rows = []
    for text in texts:
        indices = sorted({dictionary[w] for w in extract_words(text) if w in dictionary})
        rows.append(np.array(indices, dtype=np.int64))
    return rows


def read_order(path):
    return [int(x) for x in pathlib.Path(path).read_text().strip().split(",")]


def pegasos_dense(matrix, labels, order):
    theta, theta0, t = np.zeros(matrix.shape[1]), 0.0, 0
    for _ in range(EPOCHS):
        for i in order:
            t += 1
            eta = 1 / np.sqrt(t)
            if labels[i] * (np.dot(matrix[i], theta) + theta0) <= 1:
                theta = (1 - eta * LAMBDA) * theta + eta * labels[i] * matrix[i]
                theta0 += eta * labels[i]
            else:
                theta = (1 - eta * LAMBDA) * theta
    return theta, theta0


def pegasos_sparse(rows, labels, order, dim):
    w, scale, theta0, t = np.zeros(dim), 1.0, 0.0, 0
    for _ in range(EPOCHS):
        for i in order:
            t += 1
            eta = 1 / np.sqrt(t)
            margin = labels[i] * (scale * w[rows[i]].sum() + theta0)
            scale *= 1 - eta * LAMBDA
            if margin <= 1:
                w[rows[i]] += eta * labels[i] / scale
                theta0 += eta * labels[i]
    return w * scale, theta0


def accuracy_dense(matrix, labels, theta, theta0):
    predictions = np.where(matrix @ theta + theta0 > 0, 1, -1)
    return float((predictions == labels).mean())


def run_numpy(data, variant):
    started, cpu_started = time.perf_counter(), time.process_time()
    train_texts, train_labels = load(data / "reviews_train.tsv")
    dictionary = bag_of_words(train_texts)
    order = read_order(data / "4000.txt")
    if variant == "dense":
        theta, theta0 = pegasos_dense(dense_features(train_texts, dictionary), train_labels, order)
    else:
        rows = sparse_rows(train_texts, dictionary)
        theta, theta0 = pegasos_sparse(rows, train_labels, order, len(dictionary))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    val_texts, val_labels = load(data / "reviews_val.tsv")
    val = accuracy_dense(dense_features(val_texts, dictionary), val_labels, theta, theta0)
    return elapsed, cpu, val


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_trainlab(data, binary):
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "run"
        command = [
            str(binary), "-q", "train", str(REPO / "configs/sentiment/pegasos.toml"),
            "--set", f"data.dir={data}", "--out", str(out),
        ]
        started, cpu_started = time.perf_counter(), children_cpu()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        elapsed, cpu = time.perf_counter() - started, children_cpu() - cpu_started
        summary = json.loads((out / "summary.json").read_text())
    return elapsed, cpu, summary["metrics"]["val_accuracy"]


def best_of(repeats, run):
    results = [run() for _ in range(repeats)]
    return min(r[0] for r in results), min(r[1] for r in results), results[0][2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, required=True, help="the reviews/ folder")
    parser.add_argument("--trainlab", type=pathlib.Path, required=True, help="release binary")
    parser.add_argument("--repeats", type=int, default=5, help="runs per variant; best counts")
    args = parser.parse_args()
    data = args.data.resolve()
    load_at_start = pathlib.Path("/proc/loadavg").read_text().split()[0]

    timings = {
        "trainlab": best_of(args.repeats, lambda: run_trainlab(data, args.trainlab.resolve())),
        "numpy dense": best_of(args.repeats, lambda: run_numpy(data, "dense")),
        "numpy sparse": best_of(args.repeats, lambda: run_numpy(data, "sparse")),
    }
    wall_base, cpu_base = timings["trainlab"][0], timings["trainlab"][1]
    print(f"1-minute load average at start: {load_at_start}")
    header = f"{'variant':<14} {'wall s':>8} {'cpu s':>8} {'val acc':>8} {'wall x':>8} {'cpu x':>8}"
    print(header)
    for name, (wall, cpu, val) in timings.items():
        print(
            f"{name:<14} {wall:>8.3f} {cpu:>8.3f} {val:>8.4f} "
            f"{wall / wall_base:>8.1f} {cpu / cpu_base:>8.1f}"
        )


if __name__ == "__main__":
    main()
