"""File sizes: sknoise.save against pickle, for a model with a 20,000-category column.

A pickle (or joblib file) of a fitted model carries everything the model holds: the
network's weights, the optimizer's state (Adam keeps two moments per weight) and the
preprocessing, whose encoder keeps every distinct category seen in ``fit`` (here 20,000
IDs, embedded by a 20,001 x 16 table). The report splits each file into those parts.

The preprocessing is saved through its state API (``TablePreprocessor._get_state``): the
category names as JSON strings, its numbers as tensors.

Writes ``benchmarks/results/file_sizes.md``.

Usage::

    python benchmarks/bench_file_sizes.py
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import safetensors  # noqa: E402

import sknoise  # noqa: E402
from benchmarks.common import machine_description, markdown_table, write_report  # noqa: E402

N_ROWS, N_CATEGORIES = 60_000, 20_000


def table() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.permutation(np.arange(N_ROWS) % N_CATEGORIES)
    frame = pd.DataFrame({
        "customer": pd.Series([f"C{i:06d}" for i in ids], dtype=object),
        "amount": rng.lognormal(3, 1, N_ROWS),
        "age": rng.normal(40, 10, N_ROWS),
        "tenure": rng.integers(0, 120, N_ROWS).astype(float),
    })
    y = (frame["amount"] > frame["amount"].median()).to_numpy().astype(int)
    return frame, y


def _parts(path: Path) -> dict:
    with safetensors.safe_open(path, framework="pt") as f:
        sizes = {}
        for name in f.keys():
            section = name.split("/")[0]
            t = f.get_tensor(name)
            sizes[section] = sizes.get(section, 0) + t.numel() * t.element_size()
        sizes["JSON document"] = len(f.metadata()["sknoise"].encode())
    return sizes


def main() -> None:
    started = time.time()
    machine = machine_description()
    frame, y = table()
    model = sknoise.NoisyMLPClassifier(max_epochs=1, early_stopping=False, random_state=0).fit(frame, y)
    cardinality = model.preprocessor_.layout_.cardinalities
    tmp = Path(tempfile.mkdtemp())
    rows = []
    pickled = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    rows.append({"file": "pickle.dumps(model)", "MB": pickled / 1e6})
    rows.append({"file": "joblib.dump(model)", "MB": len(buffer.getvalue()) / 1e6})
    rows.append({"file": "  of which the preprocessing (pickled alone)",
                 "MB": len(pickle.dumps(model.preprocessor_, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6})
    parts = {}
    for optimizer_state in (True, False):
        path = tmp / f"model_{optimizer_state}.safetensors"
        sknoise.save(model, path, optimizer_state=optimizer_state)
        label = "sknoise.save(model, path)" if optimizer_state else "sknoise.save(model, path, optimizer_state=False)"
        rows.append({"file": label, "MB": path.stat().st_size / 1e6})
        parts[label] = _parts(path)
    weights = sum(t.numel() * t.element_size() for t in model.net_.module_.state_dict().values())
    embedding = sum(t.numel() * t.element_size() for k, t in model.net_.module_.state_dict().items()
                    if k.startswith("embeddings."))
    full = parts["sknoise.save(model, path)"]
    breakdown = [{"part": "network weights (module/)", "MB": weights / 1e6},
                 {"part": "  of which the 20,000-category embedding", "MB": embedding / 1e6},
                 {"part": "optimizer state (optimizer/: Adam's two moments)", "MB": full.get("optimizer", 0) / 1e6},
                 {"part": "JSON document (parameters, category names, history, ...)",
                  "MB": full["JSON document"] / 1e6},
                 {"part": "  of which the 20,000 category names",
                  "MB": len(json.dumps([str(v) for v in model.preprocessor_.categories_["customer"]])) / 1e6},
                 {"part": "preprocessing arrays (preprocessor/)", "MB": full.get("preprocessor", 0) / 1e6}]
    body = (
        f"A `NoisyMLPClassifier()` (defaults: hidden (256, 256), Adam) fitted on {N_ROWS:,} rows of a table with a "
        f"{N_CATEGORIES:,}-category ID column (embedded: {cardinality[0]:,} codes x 16) and three numeric "
        "columns (one epoch: the sizes do not depend on training).\n\n"
        + markdown_table(rows, floatfmt=".2f") + "\n\nWhat the saved file holds:\n\n"
        + markdown_table(breakdown, floatfmt=".2f") + "\n"
    )
    write_report("file_sizes", "File sizes: sknoise.save against pickle", "python benchmarks/bench_file_sizes.py",
                 body, machine, started)


if __name__ == "__main__":
    main()
