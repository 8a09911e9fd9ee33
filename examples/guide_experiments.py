"""Reproduce the practitioner's guide experiments (seed 003) with NoisyMLPClassifier.

Experiment 1 (noise and dropout against overfitting): ``make_circles(n_samples=100,
noise=0.1, random_state=1)``, the first 30 rows train and the other 70 test, one
hidden layer of 500 ReLU units, Adam, 4000 epochs, batch size 32 (Keras' default,
so one full batch of 30 rows per epoch). Configurations: plain, dropout 0.4 (and the
guide's suggested max-norm extension), input noise 0.01, hidden noise 0.1 before and
after the ReLU, input and hidden noise together.

Experiment 2 (batch normalization): ``make_circles(n_samples=1000, ...)``, 500/500,
50 ReLU units, SGD lr 0.01 momentum 0.9, 100 epochs of batches of 32, batch norm
before vs after the activation, and none.

Experiment 3: a grid of the hidden (pre-activation) noise std.

Every configuration is fitted over several estimator seeds (``random_state``; the data
split is fixed as in the guide). Per-epoch accuracies come from a skorch callback
passed through the estimator's ``callbacks`` parameter. Writes
``benchmarks/results/guide_results.md`` and ``guide_*.png``.

Run ``python examples/guide_experiments.py`` (200 fits: about 12-15 minutes on one free
CPU core, half that with ``--jobs 2``) or ``--quick`` for a smoke run of about a minute.
``--cache FILE`` makes a stopped run resumable.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import make_circles  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, machine_description, markdown_table, mean_std, report_header  # noqa: E402
from sknoise import NoisyMLPClassifier  # noqa: E402


# --------------------------------------------------------------------------- callbacks
class AccuracyRecorder(Callback):
    """Record per-epoch accuracies in ``net.history``.

    ``train_acc`` and ``test_acc`` are measured on the fixed train and test sets with
    the network in eval mode (noise and dropout off, batch norm on running stats), as
    at prediction time. ``train_acc_fit`` is the accuracy of the training batches as
    they were fitted (noise on, batch statistics): the number Keras reports as
    ``accuracy`` in its history.
    """

    def __init__(self, X_train, y_train, X_test, y_test) -> None:
        self.X_train, self.y_train = X_train, y_train
        self.X_test, self.y_test = X_test, y_test

    def initialize(self):
        self.X_all_ = torch.as_tensor(np.vstack([self.X_train, self.X_test]), dtype=torch.float32)
        self.n_train_ = len(self.X_train)
        self.y_train_ = torch.as_tensor(self.y_train)
        self.y_test_ = torch.as_tensor(self.y_test)
        return self

    def on_epoch_begin(self, net, **kwargs) -> None:
        self.correct_, self.seen_ = 0, 0

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs) -> None:
        if training:
            self.correct_ += int((y_pred.argmax(1) == batch[1]).sum())
            self.seen_ += len(batch[1])

    def on_epoch_end(self, net, **kwargs) -> None:
        # net.forward runs skorch's evaluation step (eval mode, no grad); the next
        # training step puts the module back in train mode.
        pred = net.forward(self.X_all_).argmax(1)
        net.history.record("train_acc", float((pred[: self.n_train_] == self.y_train_).float().mean()))
        net.history.record("test_acc", float((pred[self.n_train_ :] == self.y_test_).float().mean()))
        net.history.record("train_acc_fit", self.correct_ / max(self.seen_, 1))


class DropIdlePrintLog(Callback):
    """Workaround: drop skorch's ``PrintLog`` when the net is silent.

    With ``verbose=0`` skorch still formats its epoch table (tabulate) every epoch and
    then discards it; for these tiny full-batch fits that is about a third of the CPU
    time of a fit. The fitted model is unchanged (same weights, same scores).
    """

    def on_train_begin(self, net, **kwargs) -> None:
        if not net.verbose:
            net.callbacks_ = [(name, cb) for name, cb in net.callbacks_ if name != "print_log"]


class KerasInit(Callback):
    """Re-initialize the linear layers as Keras does (uniform kernels, zero biases).

    Used only for a side check of how much the guide's numbers depend on Keras'
    initialization (``glorot_uniform``, or ``he_uniform`` for hidden layers with
    ``hidden='he'``) rather than torch's default. Seeded, so fits stay repeatable.
    """

    def __init__(self, seed: int, hidden: str = "glorot") -> None:
        self.seed = seed
        self.hidden = hidden

    def on_train_begin(self, net, **kwargs) -> None:
        if len(net.history):  # only before the first epoch
            return
        gen = torch.Generator().manual_seed(self.seed)
        module = net.module_
        hidden = set(map(id, module.max_norm_layers()))
        with torch.no_grad():
            for layer in module.modules():
                if not isinstance(layer, nn.Linear):
                    continue
                fan_out, fan_in = layer.weight.shape
                if id(layer) in hidden and self.hidden == "he":
                    limit = np.sqrt(6.0 / fan_in)
                else:
                    limit = np.sqrt(6.0 / (fan_in + fan_out))
                layer.weight.uniform_(-limit, limit, generator=gen)
                layer.bias.zero_()


# --------------------------------------------------------------------------- history
def history_curves(clf: NoisyMLPClassifier, keys=("train_acc", "test_acc", "train_acc_fit")) -> dict:
    """Per-epoch arrays of the given history keys (NaN where an epoch lacks one)."""
    history = clf.history_
    return {key: np.array([row.get(key, np.nan) for row in history], dtype=float) for key in keys}


# --------------------------------------------------------------------------- running
@dataclass
class Config:
    name: str
    params: dict
    keras_init: str | None = None  # None, "glorot" or "he"


@dataclass
class Outcome:
    config: Config
    train: list = field(default_factory=list)
    test: list = field(default_factory=list)
    curves: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def row(self) -> dict:
        te = np.array(self.test)
        return {
            "config": self.config.name,
            "train acc (mean ± std)": mean_std(self.train),
            "test acc (mean ± std)": mean_std(te),
            "test acc min–max": f"{te.min():.3f}–{te.max():.3f}",
            "n seeds": len(te),
            "s / fit": f"{np.mean(self.seconds):.1f}",
        }


def table(outcomes: list[Outcome]) -> str:
    return markdown_table([o.row() for o in outcomes])


class Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.perf_counter()

    def __call__(self, message: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * max(self.total - self.done, 0)
        print(f"[{self.done:>3}/{self.total}] {elapsed:6.0f}s (eta {eta:4.0f}s) {message}", flush=True)


class FitCache(dict):
    """Results of finished fits, pickled after each fit so that a stopped run resumes."""

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path
        if path is not None and path.exists():
            self.update(pickle.loads(gzip.decompress(path.read_bytes())))

    def save(self) -> None:
        if self.path is not None:
            self.path.write_bytes(gzip.compress(pickle.dumps(dict(self))))


def fit_one(params: dict, keras_init: str | None, seed: int, data) -> tuple:
    """Fit one estimator; return final train/test accuracy, its curves and its fit time."""
    torch.set_num_threads(1)  # tiny networks: threads cost more than they bring
    X_train, y_train, X_test, y_test = data
    callbacks = [("acc", AccuracyRecorder(X_train, y_train, X_test, y_test)), ("quiet", DropIdlePrintLog())]
    if keras_init:
        callbacks.append(("keras_init", KerasInit(1000 + seed, keras_init)))
    clf = NoisyMLPClassifier(**params, random_state=seed, callbacks=callbacks)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    curves = {k: v.astype(np.float32) for k, v in history_curves(clf).items()}
    return clf.score(X_train, y_train), clf.score(X_test, y_test), curves, seconds


def _key(params: dict, config: Config, seed: int) -> tuple:
    return repr(sorted(params.items())), config.keras_init, seed


def run_all(experiments, seeds, cache: FitCache, jobs: int) -> None:
    """Fit every (configuration, seed) not in ``cache``, sequentially or in ``jobs`` processes."""
    tasks, names = {}, {}
    for configs, base, data in experiments:
        for config in configs:
            params = {**base, **config.params}
            for seed in seeds:
                key = _key(params, config, seed)
                if key not in cache and key not in tasks:
                    tasks[key] = (params, config.keras_init, seed, data)
                    names[key] = f"{config.name:<38} seed {seed:>2}"
    progress = Progress(len(tasks))

    def done(key, result) -> None:
        cache[key] = result
        cache.save()
        train, test, _, seconds = result
        progress(f"{names[key]}: train {train:.3f} test {test:.3f} ({seconds:.1f}s)")

    if jobs == 1:
        for key, task in tasks.items():
            done(key, fit_one(*task))
        return
    # spawn, not fork: a forked child cannot use a CUDA context the parent may hold.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fit_one, *task): key for key, task in tasks.items()}
        for future in as_completed(futures):
            done(futures[future], future.result())


def collect(configs, base: dict, seeds, cache: FitCache) -> list[Outcome]:
    outcomes = []
    for config in configs:
        outcome = Outcome(config)
        for seed in seeds:
            train, test, curves, seconds = cache[_key({**base, **config.params}, config, seed)]
            outcome.train.append(train)
            outcome.test.append(test)
            outcome.curves.append(curves)
            outcome.seconds.append(seconds)
        outcomes.append(outcome)
    return outcomes


# --------------------------------------------------------------------------- plots
def _band(ax, values: np.ndarray, label: str, color, style="-", alpha=0.2) -> None:
    epochs = np.arange(1, values.shape[1] + 1)
    mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    ax.plot(epochs, mean, style, color=color, label=label, lw=1.2)
    if alpha:
        ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=alpha, lw=0)


def plot_curves(outcomes: list[Outcome], path: Path, title: str, ncols: int) -> None:
    nrows = int(np.ceil(len(outcomes) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), sharey=True, squeeze=False)
    for ax, outcome in zip(axes.flat, outcomes):
        stack = {k: np.vstack([c[k] for c in outcome.curves]) for k in outcome.curves[0]}
        _band(ax, stack["train_acc_fit"], "train (as fitted, noise on)", "0.6", ":", alpha=0)
        _band(ax, stack["train_acc"], "train", "tab:blue")
        _band(ax, stack["test_acc"], "test", "tab:orange")
        te = np.array(outcome.test)
        ax.set_title(f"{outcome.config.name}\ntest {te.mean():.3f} ± {te.std():.3f}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(outcomes):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{title} (mean ± std over {len(outcomes[0].test)} seeds)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_grid(stds, outcomes: list[Outcome], path: Path, epochs: int) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for attr, color, label in (("train", "tab:blue", "train"), ("test", "tab:orange", "test")):
        values = np.array([getattr(o, attr) for o in outcomes])
        mean, std = values.mean(axis=1), values.std(axis=1)
        ax.errorbar(stds, mean, yerr=std, marker="o", capsize=3, color=color, label=label)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("std of the hidden (pre-activation) Gaussian noise")
    ax.set_ylabel("accuracy")
    ax.set_title(f"circles 30/70, 500 ReLU, {epochs} epochs: mean ± std over {len(outcomes[0].test)} seeds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main
def circles(n_samples: int, n_train: int):
    X, y = make_circles(n_samples=n_samples, noise=0.1, random_state=1)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, few epochs, small grid")
    parser.add_argument("--seeds", type=int, default=10, help="estimator seeds per configuration")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=None,
                        help="pickle of finished fits: a rerun with the same file skips them (resume)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel fitting processes (1 thread each)")
    args = parser.parse_args(argv)
    quick = args.quick
    seeds = list(range(2 if quick else args.seeds))
    epochs1, epochs2 = (200, 10) if quick else (4000, 100)
    stds = [0.0, 0.1, 0.5] if quick else [0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # as in every fit (fit_one), so that the description below says so
    machine = machine_description()  # measured before the runs load the machine
    print(f"machine: {machine}", flush=True)

    base1 = dict(
        hidden_layer_sizes=(500,), activation="relu", optimizer="adam", lr=1e-3, batch_size=32,
        max_epochs=epochs1, early_stopping=False, noise="gaussian", noise_scale=0.0,
    )
    both = ("input", "pre_activation")
    configs1 = [
        Config("plain", {}),
        Config("dropout 0.4", {"dropout": 0.4}),
        Config("dropout 0.4 + max_norm 3", {"dropout": 0.4, "max_norm": 3.0}),
        Config("input noise 0.01", {"noise_placement": "input", "noise_scale": 0.01}),
        Config("hidden noise 0.1, pre-activation", {"noise_placement": "pre_activation", "noise_scale": 0.1}),
        Config("hidden noise 0.1, post-activation", {"noise_placement": "post_activation", "noise_scale": 0.1}),
        # One noise_scale serves every placement, so the guide's 0.01 input + 0.1 hidden cannot be expressed.
        Config("input + pre-act. noise, both 0.01", {"noise_placement": both, "noise_scale": 0.01}),
        Config("input + pre-act. noise, both 0.1", {"noise_placement": both, "noise_scale": 0.1}),
    ]
    configs_keras = [
        Config("plain, Keras init", {}, keras_init="glorot"),
        Config("hidden noise 0.1 pre-act., Keras init",
               {"noise_placement": "pre_activation", "noise_scale": 0.1}, keras_init="glorot"),
    ]
    grid = [Config(f"pre-activation noise {s:g}", {"noise_placement": "pre_activation", "noise_scale": s} if s else {})
            for s in stds]
    base2 = dict(
        hidden_layer_sizes=(50,), activation="relu", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32,
        max_epochs=epochs2, early_stopping=False, noise_scale=0.0,
    )
    configs2 = [
        Config("no batch norm", {}),
        Config("batch norm after ReLU", {"batch_norm": "after"}),
        Config("batch norm before ReLU", {"batch_norm": "before"}),
        Config("no batch norm, Keras he_uniform init", {}, keras_init="he"),
    ]

    # Grid points equal to a configuration above (std 0 = plain, 0.1) are fitted once.
    cache = FitCache(args.cache)
    data1, data2 = circles(100, 30), circles(1000, 500)
    start = time.perf_counter()
    run_all([(configs1, base1, data1), (configs2, base2, data2), (grid, base1, data1), (configs_keras, base1, data1)],
            seeds, cache, args.jobs)
    total = time.perf_counter() - start
    out1, out2 = collect(configs1, base1, seeds, cache), collect(configs2, base2, seeds, cache)
    out_grid, out_keras = collect(grid, base1, seeds, cache), collect(configs_keras, base1, seeds, cache)

    suffix = "_quick" if quick else ""
    plot_curves(out1, args.out / f"guide_noise_curves{suffix}.png",
                f"make_circles 30 train / 70 test, 500 ReLU, Adam, {epochs1} epochs", ncols=4)
    plot_curves(out2, args.out / f"guide_batchnorm_curves{suffix}.png",
                f"make_circles 500/500, 50 ReLU, SGD 0.01 m 0.9, {epochs2} epochs", ncols=4)
    plot_grid(stds, out_grid, args.out / f"guide_noise_grid{suffix}.png", epochs1)

    command = " ".join(["python examples/guide_experiments.py", *(argv if argv is not None else sys.argv[1:])])
    one_fit = np.mean(out1[0].seconds)
    tables = "\n".join([
        f"## Experiment 1: noise and dropout (30 train / 70 test, {epochs1} epochs)\n",
        table(out1), "",
        "Side check, Keras initialization (glorot_uniform kernels, zero biases) instead of torch's default:\n",
        table(out_keras), "",
        f"## Experiment 2: batch normalization (500 train / 500 test, {epochs2} epochs)\n",
        table(out2), "",
        "## Experiment 3: grid of the hidden (pre-activation) noise std\n",
        table(out_grid), "",
    ])
    title = f"Practitioner's guide experiments with NoisyMLPClassifier{' (QUICK SMOKE RUN)' if quick else ''}"
    report = report_header(title, command, machine) + f"""\
Run from the repository root, with the project's `.venv`: {args.jobs} fitting process(es) of one torch thread
each, on the CPU. Wall time {total / 60:.1f} min; one {epochs1}-epoch fit of experiment 1
takes {one_fit:.1f} s. Seeds {seeds[0]}..{seeds[-1]} (estimator `random_state`); the data split is fixed.
Accuracies are final-epoch `score()` values (noise and dropout off at prediction).

{tables}
Plots: `guide_noise_curves{suffix}.png`, `guide_batchnorm_curves{suffix}.png`, `guide_noise_grid{suffix}.png`.

COMMENTARY_PLACEHOLDER
"""
    path = args.out / f"guide_results{suffix}.md"
    existing = path.read_text() if path.exists() else ""
    if "<!-- commentary -->" in existing:  # keep a hand-written commentary across reruns
        report = report.replace("COMMENTARY_PLACEHOLDER", existing[existing.index("<!-- commentary -->"):])
    else:
        report = report.replace("COMMENTARY_PLACEHOLDER", "<!-- commentary -->\n(commentary to be written)\n")
    path.write_text(report)
    print(tables)
    print(f"wrote {path} in {total:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
