"""Fit and inference speed of NoisyMLPClassifier against baselines run in the same process.

Fit: 20000 rows x 50 features, 3 classes, hidden (256, 256), batch 256, 10 epochs, adam.
Compared: sklearn's MLPClassifier with the same configuration, a hand-written torch
training loop (the floor for any wrapper), and a plain skorch NeuralNetClassifier with its
default per-row Dataset/DataLoader path. Every method runs ``--repeats`` times, in an
interleaved order, and the median is kept, so all ratios come from the same run.

Inference: T=100 noisy passes on 5000 rows, as achieved GFLOP/s against the matmul rate
of this machine measured in the same run (a large square matmul and one at the shape of
the inference's own largest product).

Usage::

    python benchmarks/bench_mlp_speed.py            # full run, writes benchmarks/results/mlp_speed.md
    python benchmarks/bench_mlp_speed.py --quick    # smoke run, writes nothing
    python benchmarks/bench_mlp_speed.py --device cuda   # GPU: the torch baselines and sknoise on CUDA,
                                                         # writes benchmarks/results/mlp_speed_cuda.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import code_version, machine_description  # noqa: E402
from sknoise import NoisyMLPClassifier  # noqa: E402

RESULTS = Path(__file__).parent / "results"
HIDDEN = (256, 256)
BATCH = 256
LR = 1e-3


def make_data(n_rows: int, n_features: int = 50):
    X, y = make_classification(
        n_rows, n_features, n_informative=20, n_redundant=10, n_classes=3, random_state=0
    )
    return X, y  # float64, as users pass it


def fit_sklearn(X, y, epochs):
    clf = MLPClassifier(
        HIDDEN, solver="adam", learning_rate_init=LR, batch_size=BATCH, max_iter=epochs, alpha=0.0,
        tol=0.0, n_iter_no_change=epochs + 1, random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)


def fit_torch_loop(X, y, epochs, device="cpu"):
    """What a user would write by hand: tensors made once, shuffled and sliced per epoch."""
    torch.manual_seed(0)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.int64, device=device)
    layers, width = [], Xt.shape[1]
    for h in HIDDEN:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    model = nn.Sequential(*layers, nn.Linear(width, int(yt.max()) + 1)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(Xt), device=device)
        Xs, ys = Xt[order], yt[order]
        for start in range(0, len(Xs), BATCH):
            opt.zero_grad()
            loss = loss_fn(model(Xs[start : start + BATCH]), ys[start : start + BATCH])
            loss.backward()
            opt.step()
    if device != "cpu":
        torch.cuda.synchronize()


def fit_plain_skorch(X, y, epochs, device="cpu"):
    from skorch import NeuralNetClassifier

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(X.shape[1], 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 3)
            )

        def forward(self, x):
            return self.net(x)

    torch.manual_seed(0)
    NeuralNetClassifier(
        MLP, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=LR, batch_size=BATCH,
        max_epochs=epochs, train_split=None, verbose=0, device=device,
    ).fit(X.astype(np.float32), y.astype(np.int64))


def fit_sknoise(X, y, epochs, noise_scale, device="cpu", precision="float32"):
    NoisyMLPClassifier(
        HIDDEN, noise="gaussian", noise_scale=noise_scale, batch_size=BATCH, max_epochs=epochs, lr=LR,
        weight_decay=0.0, early_stopping=False, random_state=0, device=device, precision=precision,
    ).fit(X, y)
    if device != "cpu":
        torch.cuda.synchronize()


def time_interleaved(methods: dict, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in methods}
    rng = np.random.default_rng(0)
    for r in range(repeats):
        for name in rng.permutation(list(methods)):
            start = time.perf_counter()
            methods[name]()
            times[name].append(time.perf_counter() - start)
        print(f"  round {r + 1}/{repeats}: " + ", ".join(f"{n}={t[-1]:.2f}s" for n, t in times.items()), flush=True)
    return times


def _sync(device: str) -> None:
    if device != "cpu":
        torch.cuda.synchronize()


def matmul_gflops(m: int, k: int, n: int, seconds: float = 1.0, device: str = "cpu") -> float:
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    a @ b
    _sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    _sync(device)
    return 2 * m * k * n * count / (time.perf_counter() - start) / 1e9


def inference_benchmark(X, y, n_rows: int, n_passes: int, repeats: int, device: str = "cpu") -> dict:
    clf = NoisyMLPClassifier(
        HIDDEN, noise="gaussian", noise_scale=0.1, max_epochs=1, early_stopping=False, random_state=0,
        inference_noise="same", n_inference_samples=n_passes, device=device,
    ).fit(X[:2000], y[:2000])
    Xq = X[:n_rows]
    clf.predict_proba(Xq[:100])
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        clf.predict_proba(Xq)
        seconds.append(time.perf_counter() - start)
    t = statistics.median(seconds)
    widths = [X.shape[1], *HIDDEN, 3]
    flops = n_passes * n_rows * sum(2 * a * b for a, b in zip(widths[:-1], widths[1:]))
    from sknoise.nn._inference import plan_chunks

    chunk = plan_chunks(n_passes, widths, clf._inference_budget_bytes()).rows
    return {
        "seconds": t,
        "gflops": flops / t / 1e9,
        "peak_square": matmul_gflops(2048, 2048, 2048, device=device),
        "peak_shape": matmul_gflops(min(chunk, n_rows) * n_passes, 256, 256, device=device),
        "chunk_rows": chunk,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run; writes no results")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda'")
    args = parser.parse_args()
    device = args.device
    n_rows, epochs, repeats = (3000, 2, 2) if args.quick else (20000, 10, args.repeats)
    X, y = make_data(n_rows)
    machine = machine_description()
    print(machine)

    methods = {
        "hand-written torch loop": lambda: fit_torch_loop(X, y, epochs, device),
        "plain skorch": lambda: fit_plain_skorch(X, y, epochs, device),
        "NoisyMLPClassifier (noise off)": lambda: fit_sknoise(X, y, epochs, 0.0, device),
        "NoisyMLPClassifier (gaussian 0.1)": lambda: fit_sknoise(X, y, epochs, 0.1, device),
        "NoisyMLPClassifier (noise off, bfloat16 autocast)": lambda: fit_sknoise(X, y, epochs, 0.0, device, "bfloat16"),
    }
    if device == "cpu":  # sklearn has no GPU path
        methods = {"sklearn MLPClassifier": lambda: fit_sklearn(X, y, epochs), **methods}
    # Warm-up: imports, allocator and lazy torch initialization stay out of the timings.
    fit_sknoise(X[:500], y[:500], 1, 0.1, device)
    fit_torch_loop(X[:500], y[:500], 1, device)
    fit_plain_skorch(X[:500], y[:500], 1, device)
    print(f"fit: {n_rows} x {X.shape[1]}, hidden {HIDDEN}, batch {BATCH}, {epochs} epochs, {repeats} repeats")
    times = time_interleaved(methods, repeats)
    med = {name: statistics.median(t) for name, t in times.items()}
    ours, noisy = med["NoisyMLPClassifier (noise off)"], med["NoisyMLPClassifier (gaussian 0.1)"]
    checks = [
        ("NoisyMLP (off) / hand-written torch loop", ours / med["hand-written torch loop"],
         "<= 1.05 on a GPU; reference on the CPU" if device != "cpu" else "(reference on the CPU; <= 1.05 on a GPU)"),
        ("NoisyMLP (noise on) / NoisyMLP (off)", noisy / ours, "<= 1.10"),
        ("plain skorch / hand-written torch loop", med["plain skorch"] / med["hand-written torch loop"], "(reference)"),
        ("NoisyMLP (off), bfloat16 autocast / float32",
         med["NoisyMLPClassifier (noise off, bfloat16 autocast)"] / ours, "(reference; for large data on a GPU)"),
    ]
    if "sklearn MLPClassifier" in med:
        checks.insert(0, ("NoisyMLP (off) / sklearn MLPClassifier", ours / med["sklearn MLPClassifier"], "<= 0.50"))
    n_inf, t_inf = (1000, 10) if args.quick else (5000, 100)
    print(f"inference: T={t_inf} noisy passes on {n_inf} rows")
    inf = inference_benchmark(X, y, n_inf, t_inf, repeats=3, device=device)

    lines = [
        "# NoisyMLPClassifier speed",
        "",
        f"Command: `python benchmarks/bench_mlp_speed.py{''.join(' ' + a for a in sys.argv[1:])}` "
        f"(code at {code_version()}; every ratio comes from one interleaved run).",
        "",
        f"Machine: {machine}.",
        "",
        f"## Fit: {n_rows} x {X.shape[1]}, 3 classes, hidden {HIDDEN}, batch {BATCH}, {epochs} epochs, adam "
        f"(median of {repeats})",
        "",
        "| method | median fit time (s) | min | max |",
        "|---|---|---|---|",
        *[f"| {n} | {med[n]:.3f} | {min(t):.3f} | {max(t):.3f} |" for n, t in times.items()],
        "",
        "| ratio | measured | target |",
        "|---|---|---|",
        *[f"| {name} | {value:.2f} | {target} |" for name, value, target in checks],
        "",
        f"## Inference: T={t_inf} noisy passes on {n_inf} rows (vectorized over T, chunks of {inf['chunk_rows']} rows)",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| predict_proba time (median of 3) | {inf['seconds']:.3f} s |",
        f"| achieved (matmul FLOPs only) | {inf['gflops']:.1f} GFLOP/s |",
        f"| machine matmul, 2048^3 | {inf['peak_square']:.1f} GFLOP/s |",
        f"| machine matmul at the inference's shape | {inf['peak_shape']:.1f} GFLOP/s |",
        f"| fraction of 2048^3 rate | {inf['gflops'] / inf['peak_square']:.0%} |",
        f"| **fraction of the matmul rate at the inference's shape** (target >= 50% on the CPU) | "
        f"**{inf['gflops'] / inf['peak_shape']:.0%}** |",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        stem = "mlp_speed" if device == "cpu" else f"mlp_speed_{device.split(':')[0]}"
        (RESULTS / f"{stem}.md").write_text(report)
        plot(med, RESULTS / f"{stem}.png")
        print(f"wrote {RESULTS / stem}.md")


def plot(med: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = med["hand-written torch loop"]
    names = list(med)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    colors = {"sklearn": "#888", "hand": "#444", "plain": "#bbb", "NoisyMLPClassifier (noise": "#1f77b4"}
    ax.barh(names, [med[n] / base for n in names],
            color=[next((c for k, c in colors.items() if n.startswith(k)), "#ff7f0e") for n in names])
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("fit time / hand-written torch loop (lower is faster)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
