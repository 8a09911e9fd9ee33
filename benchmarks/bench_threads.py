"""Threads and joblib workers: does ``GridSearchCV(n_jobs=2)`` beat ``n_jobs=1`` on this machine?

A grid search over ``NoisyMLPClassifier((128, 128), max_epochs=10)`` (4 noise scales x
3 folds = 12 fits on 6000 x 30 synthetic rows) runs with ``n_jobs=1`` (one process, torch's
default threads) and ``n_jobs=2`` (two loky workers, each given its share of the cores
by joblib), interleaved, ``--repeats`` times; the loky pool is started before the timing.
It also records how many torch threads a fit gets inside a worker. Writes
``benchmarks/results/threads.{md,png}``.

Usage::

    python benchmarks/bench_threads.py
    python benchmarks/bench_threads.py --quick   # one repeat, smaller grid; writes nothing
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from benchmarks.common import machine_description, markdown_table, save_figure, write_report  # noqa: E402
from sknoise import NoisyMLPClassifier  # noqa: E402


def worker_threads() -> int:
    return torch.get_num_threads()


def search(X, y, n_jobs: int, scales: list[float]) -> float:
    clf = NoisyMLPClassifier((128, 128), noise="gaussian", max_epochs=10, early_stopping=False, random_state=0)
    start = time.perf_counter()
    GridSearchCV(clf, {"noise_scale": scales}, cv=3, n_jobs=n_jobs).fit(X, y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    started = time.time()
    machine = machine_description()
    repeats, scales = (1, [0.0, 0.1]) if args.quick else (args.repeats, [0.0, 0.1, 0.2, 0.3])
    X, y = make_classification(6000, 30, n_informative=10, n_classes=3, random_state=0)
    X = X.astype(np.float32)
    in_workers = Parallel(n_jobs=2)(delayed(worker_threads)() for _ in range(4))  # also starts the pool
    search(X[:500], y[:500], 1, scales[:1])  # warm up this process
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for r in range(repeats):
        for n_jobs in (1, 2):
            seconds[n_jobs].append(search(X, y, n_jobs, scales))
        print(f"repeat {r}: n_jobs=1 {seconds[1][-1]:.2f} s, n_jobs=2 {seconds[2][-1]:.2f} s", flush=True)
    median = {n: statistics.median(v) for n, v in seconds.items()}
    rows = [
        {"quantity": "GridSearchCV, n_jobs=1 (median s)", "value": f"{median[1]:.2f}"},
        {"quantity": "GridSearchCV, n_jobs=2 (median s)", "value": f"{median[2]:.2f}"},
        {"quantity": "**n_jobs=2 / n_jobs=1 time** (target < 1)", "value": f"**{median[2] / median[1]:.2f}**"},
        {"quantity": "torch threads in this process", "value": str(torch.get_num_threads())},
        {"quantity": "torch threads inside each of 2 loky workers", "value": str(sorted(set(in_workers)))},
        {"quantity": "CPU cores (os.cpu_count)", "value": str(os.cpu_count())},
    ]
    body = (f"{len(scales)} noise scales x 3 folds = {3 * len(scales)} fits of NoisyMLPClassifier((128, 128), "
            f"max_epochs=10) on 6000 x 30 rows; medians of {repeats} interleaved repeats.\n\n"
            + markdown_table(rows) + "\n\n![threads](threads.png)\n")
    print(body)
    if args.quick:
        return
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.bar(["n_jobs=1", "n_jobs=2"], [median[1], median[2]], color=["#888888", "#3366aa"])
    ax.set_ylabel("grid search wall time (s)")
    ax.set_title(f"GridSearchCV, {3 * len(scales)} fits, {os.cpu_count()} cores")
    fig.tight_layout()
    save_figure(fig, "threads")
    write_report("threads", "Threads and joblib workers", " ".join(["python", *sys.argv]), body, machine=machine,
                 started=started)


if __name__ == "__main__":
    main()
