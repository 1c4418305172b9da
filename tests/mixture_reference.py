"""NumPy reference for the mixture family: EM with missing entries, as the course computes it.

Used to time the benchmark in docs/bench-mixture.md and to cross-check trainlab's numbers.
Usage: python3 tests/mixture_reference.py MATRIX K SEED [SEED ...] [--repeat N]
Prints, per seed, the final log-likelihood, the iteration count and the fit time.
"""

import argparse
import time

import numpy as np


def init(X, k, seed):
    """Course initialization: NumPy legacy choice of K rows, pooled variance, uniform weights."""
    np.random.seed(seed)
    mu = X[np.random.choice(X.shape[0], k, replace=False)]
    var = np.array([((X - mu[j]) ** 2).mean() for j in range(k)])
    return mu, var, np.ones(k) / k


def logsumexp_rows(a):
    """Return log(sum(exp(a), axis=1)) as a column, shifted by the row maximum for stability."""
    top = a.max(axis=1, keepdims=True)
    return top + np.log(np.exp(a - top).sum(axis=1, keepdims=True))


def e_step(X, mask, counts, mu, var, p):
    """Return (posterior [n, K], log-likelihood) using only each user's observed entries."""
    sq = (X * X).sum(axis=1)[:, None] - 2.0 * X @ mu.T + mask @ (mu * mu).T
    log_f = np.log(p + 1e-16)[None, :] - 0.5 * counts[:, None] * np.log(2 * np.pi * var)[None, :]
    log_f -= sq / (2.0 * var[None, :])
    log_total = logsumexp_rows(log_f)
    return np.exp(log_f - log_total), float(log_total.sum())


def m_step(X, mask, post, mu, min_variance):
    """Return updated (mu, var, p); a mean coordinate moves only where its weight is >= 1."""
    weight = post.T @ mask
    mu = np.where(weight >= 1, (post.T @ X) / np.maximum(weight, 1e-300), mu)
    sq = (X * X).sum(axis=1)[:, None] - 2.0 * X @ mu.T + mask @ (mu * mu).T
    var = (post * sq).sum(axis=0) / weight.sum(axis=1)
    return mu, np.maximum(var, min_variance), post.sum(axis=0) / X.shape[0]


def fit(X, k, seed, min_variance=0.25, tolerance=1e-6):
    """Run EM until the gain is at most tolerance * |log-likelihood|; return (ll, iterations)."""
    mask = (X != 0).astype(float)
    counts = mask.sum(axis=1)
    mu, var, p = init(X, k, seed)
    previous, iterations = None, 0
    while True:
        post, ll = e_step(X, mask, counts, mu, var, p)
        mu, var, p = m_step(X, mask, post, mu, min_variance)
        iterations += 1
        if previous is not None and ll - previous <= tolerance * abs(ll):
            return ll, iterations
        previous = ll


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("matrix")
    parser.add_argument("k", type=int)
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    X = np.loadtxt(args.matrix)
    for seed in args.seeds:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            ll, iterations = fit(X, args.k, seed)
            times.append(time.perf_counter() - start)
        best = min(times)
        print(f"seed {seed}: log_likelihood {ll:.10f} iterations {iterations} "
              f"fit {best:.4f} s ({1000 * best / iterations:.2f} ms per iteration, "
              f"best of {args.repeat})")


if __name__ == "__main__":
    main()
