"""How fit time and peak memory grow with the number of rows: 10^3 ... 10^6 on the CPU.

Synthetic classification data (50 float32 features, 3 classes), hidden (256, 256),
batch 256, a fixed number of epochs (``--epochs``, no early stopping), so the work is
proportional to the rows. Every (model, rows) point runs in a fresh subprocess: the
fit time is the wall time of ``fit``; the peak memory is the process's peak resident
memory during the fit minus its resident memory just before (the data already made),
compared with the size of the float32 training table. A fit on 512 rows comes first in
each process, so one-time costs (lazy imports) stay out of the curves. Models: ``NoisyMLPClassifier``,
scikit-learn's ``MLPClassifier`` (same architecture, adam, ``max_iter=epochs``), a plain
skorch ``NeuralNetClassifier`` (its default per-row DataLoader) and pytabkit's RealMLP
(``--realmlp-max`` rows at most; its own recipe, which trains 256 epochs, so its time is
not comparable per epoch). ``NoisyMLPClassifier`` runs twice: on the float32 table as
it is (``preprocessing=None``, like the other models) and with its built-in
preprocessing (the default, which robust-scales every column). With ``--device cuda``
(and 10^7 in ``--rows``) the sknoise rows run on the GPU.

Writes ``benchmarks/results/scale.{md,png}`` (log-log plots of time and memory against
rows, with the slope of each curve).

Usage::

    python benchmarks/bench_scale.py
    python benchmarks/bench_scale.py --quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import ROOT, machine_description, markdown_table, save_figure, write_report  # noqa: E402

N_FEATURES, HIDDEN, BATCH = 50, (256, 256), 256
MODELS = ("NoisyMLPClassifier", "NoisyMLPClassifier (built-in preprocessing)", "sklearn MLPClassifier",
          "plain skorch", "RealMLP")

_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np, torch
warnings.simplefilter("ignore")
model, n, epochs, threads, device = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(threads)
rng = np.random.default_rng(0)
X = rng.standard_normal((n, 50), dtype=np.float32)
y = (X[:, :3] @ rng.standard_normal((3, 3)).astype(np.float32)).argmax(axis=1)

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])

if model.startswith("NoisyMLPClassifier"):
    from sknoise import NoisyMLPClassifier
    # Gaussian 0.2 explicitly: the configuration the recorded figures were measured with.
    est = NoisyMLPClassifier((256, 256), noise="gaussian", noise_scale=0.2, batch_size=256, max_epochs=epochs,
                             early_stopping=False,
                             preprocessing="auto" if "preprocessing" in model else None, device=device,
                             random_state=0)
elif model == "sklearn MLPClassifier":
    from sklearn.neural_network import MLPClassifier
    est = MLPClassifier((256, 256), batch_size=256, max_iter=epochs, random_state=0)
elif model == "plain skorch":
    from skorch import NeuralNetClassifier
    from torch import nn
    module = nn.Sequential(nn.Linear(50, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 3))
    est = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-3,
                              batch_size=256, max_epochs=epochs, train_split=None, verbose=0)
    y = y.astype(np.int64)
else:
    from pytabkit import RealMLP_TD_Classifier
    est = RealMLP_TD_Classifier(random_state=0, n_threads=threads, device="cpu", verbosity=0)
# A small fit first: one-time costs (lazy imports, allocator pools) stay out of the curve.
from sklearn.base import clone
clone(est).fit(X[:512], y[:512])
before = rss_kib()
start = time.perf_counter()
est.fit(X, y)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"fit_s": seconds, "peak_extra_mib": max(peak - before, 0) / 1024, "table_mib": X.nbytes / 2**20}))
"""


def run_point(model: str, n: int, epochs: int, threads: int, device: str, timeout: float) -> dict | None:
    try:
        out = subprocess.run([sys.executable, "-c", _CHILD, model, str(n), str(epochs), str(threads), device],
                             capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        print(f"  {model} at {n} rows: over {timeout:.0f} s, skipped", flush=True)
        return None
    if out.returncode != 0:
        print(f"  {model} at {n} rows failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(rows: list[dict], key: str) -> float:
    """The log-log slope of ``key`` against rows (1: linear growth)."""
    if len(rows) < 2:
        return float("nan")
    x = np.log10([r["rows"] for r in rows])
    y = np.log10([max(r[key], 1e-6) for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def plot(results: list[dict], name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for model in MODELS:
        rows = [r for r in results if r["model"] == model]
        if not rows:
            continue
        n = [r["rows"] for r in rows]
        axes[0].loglog(n, [r["fit_s"] for r in rows], "o-", label=model)
        axes[1].loglog(n, [max(r["peak_extra_mib"], 1e-2) for r in rows], "o-", label=model)
    n = sorted({r["rows"] for r in results})
    table = [x * N_FEATURES * 4 / 2**20 for x in n]
    axes[1].loglog(n, table, "k--", label="float32 training table")
    axes[1].loglog(n, [2 * t for t in table], "k:", label="2x the table")
    axes[0].set(xlabel="training rows", ylabel="fit seconds", title="fit time (fixed epochs)")
    axes[1].set(xlabel="training rows", ylabel="peak extra memory during fit (MiB)", title="peak memory")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    save_figure(fig, name)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=lambda s: [int(float(v)) for v in s.split(",")],
                        default=[1000, 10000, 100000, 1000000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--realmlp-max", type=int, default=100000)
    parser.add_argument("--skorch-max", type=int, default=100000,
                        help="plain skorch's per-row DataLoader is slow: the largest size it runs at")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--quick", action="store_true", help="10^3 and 10^4 rows, no RealMLP; writes nothing")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.realmlp_max = [1000, 10000], 0
    started = time.time()
    results = []
    for n in args.rows:
        for model in MODELS:
            if (model == "RealMLP" and n > args.realmlp_max) or (model == "plain skorch" and n > args.skorch_max):
                continue
            device = args.device if model.startswith("NoisyMLPClassifier") else "cpu"
            point = run_point(model, n, args.epochs, args.threads, device, args.timeout)
            if point is not None:
                results.append({"model": model, "rows": n, **point})
                print(f"{model:44s} {n:>9d} rows: fit {point['fit_s']:8.2f} s, "
                      f"peak +{point['peak_extra_mib']:8.1f} MiB "
                      f"(table {point['table_mib']:.1f} MiB)", flush=True)
    if args.quick:
        return
    summary = []
    for model in MODELS:
        rows = [r for r in results if r["model"] == model]
        if rows:
            largest = rows[-1]
            summary.append({"model": model, "largest rows": largest["rows"], "fit s at largest": largest["fit_s"],
                            "time slope (log-log)": slope(rows, "fit_s"),
                            "peak memory / table at largest": largest["peak_extra_mib"] / largest["table_mib"]})
    sk = {r["rows"]: r for r in results if r["model"] == "sklearn MLPClassifier"}
    ratios = [{"model": r["model"], "rows": r["rows"], "fit time / sklearn MLP's": r["fit_s"] / sk[r["rows"]]["fit_s"]}
              for r in results if r["model"].startswith("NoisyMLPClassifier") and r["rows"] in sk]
    body = (f"{N_FEATURES} float32 features, 3 classes, hidden {HIDDEN}, batch {BATCH}, {args.epochs} epochs "
            f"(RealMLP: its own recipe), {args.threads} threads, one fresh process per point.\n\n"
            "## Growth\n\n" + markdown_table(summary, floatfmt=".2f") + "\n\nA time slope of 1 is linear growth; the "
            "smallest sizes carry fixed costs, which lower the slope.\n\n## Points\n\n"
            + markdown_table(results, ["model", "rows", "fit_s", "peak_extra_mib", "table_mib"], floatfmt=".2f")
            + "\n\n## NoisyMLP against sklearn's MLP, same run\n\n" + markdown_table(ratios, floatfmt=".2f") + "\n")
    write_report("scale", "Fit time and memory against rows", " ".join(["python", *sys.argv]), body,
                 machine=machine_description(), started=started)
    plot(results, "scale")


if __name__ == "__main__":
    main()
