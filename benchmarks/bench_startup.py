"""What the first fit in a fresh process costs: import time, first fit, second fit.

Each repeat starts a new Python process that imports sknoise, then fits
``NoisyMLPClassifier((64,), max_epochs=5)`` on breast_cancer three times. The first fit
pays the one-time costs (lazy imports inside torch, allocator pools); the target is that
it costs less than 0.5 s more than the second. Writes ``benchmarks/results/startup.md``.

Usage::

    python benchmarks/bench_startup.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, machine_description, markdown_table, write_report  # noqa: E402

_CHILD = r"""
import json, sys, time
start = time.perf_counter()
import sknoise
imported = time.perf_counter() - start
from sklearn.datasets import load_breast_cancer
X, y = load_breast_cancer(return_X_y=True)
def fit():
    t = time.perf_counter()
    sknoise.NoisyMLPClassifier((64,), max_epochs=5, early_stopping=False, random_state=0).fit(X, y).predict_proba(X)
    return time.perf_counter() - t
first, second, third = fit(), fit(), fit()
print(json.dumps({"import_s": imported, "first_fit_s": first, "second_fit_s": second, "third_fit_s": third}))
"""

_DYNAMO = r"""
import json, time
import torch
start = time.perf_counter()
import torch._dynamo
print(json.dumps({"torch_dynamo_import_s": time.perf_counter() - start}))
"""


def child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    out.check_returncode()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    started = time.time()
    runs = [child(_CHILD) | child(_DYNAMO) for _ in range(args.repeats)]
    for run in runs:
        print(run, flush=True)
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    extra = median["first_fit_s"] - median["second_fit_s"]
    rows = [{"quantity": key, "median s": value} for key, value in median.items()]
    rows.append({"quantity": "first fit minus second (target < 0.5 s)", "median s": extra})
    body = (f"Medians of {args.repeats} fresh processes.\n\n" + markdown_table(rows, floatfmt=".3f")
            + "\n\n`torch_dynamo_import_s` is the time torch takes to import `torch._dynamo`, which it does the "
              "first time an optimizer is constructed; it is most of the first fit's extra cost.\n")
    write_report("startup", "First fit in a fresh process", " ".join(["python", *sys.argv]), body,
                 machine=machine_description(), started=started)


if __name__ == "__main__":
    main()
