"""Does ``calibration='temperature'`` help the default NoisyMLPClassifier? Its rule, checked on real tables.

A user trial found the temperature at exactly 1.0 in 11 of 18 fits, and a slightly worse
ECE where it moved. The rule (``sknoise._runtime._calibration.fit_temperature``): the
temperature is fitted on the rows early stopping held out; on fewer than 500 of them it
is the one closest to 1 among those whose log loss lies within one standard error of
the best (1 stays when it lies inside that band), on more rows the best.

On the classification tasks of the tabular suite (``benchmarks/tabular_suite.json``,
the choice part by default: the tasks that chose the defaults), each task-fold fits
the default ``NoisyMLPClassifier`` three times with the same seed (so the same network,
bit for bit: calibration comes after training):

- ``none``: ``calibration=None`` (the default; temperature 1);
- ``temperature``: ``calibration='temperature'``, the rule above;
- ``temperature, best``: the same with the one-standard-error rule off (the best
  temperature on the held-out rows whatever their number; the rule's small-sample
  threshold set to 0 for that fit).

Metrics on the test fold: log loss, top-label ECE (15 bins; ``sknoise.metrics``) and its
floor (the ECE of perfectly calibrated probabilities on a test fold of that size),
Brier score, balanced accuracy; and each fit's temperature and number of held-out
rows. Writes ``benchmarks/results/<out>.{csv,md,png}``; resumes from the CSV.

Usage::

    python benchmarks/bench_calibration.py --quick
    python benchmarks/bench_calibration.py --part choice --max-rows 3000 --folds 3 --jobs 2
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import (  # noqa: E402
    RESULTS,
    limit_threads,
    load_suite,
    load_task,
    machine_description,
    markdown_table,
    save_figure,
    save_rows,
    write_report,
)
from benchmarks.tabular_suite import HELD_OUT, folds_of  # noqa: E402
from benchmarks.uncertainty import _scores  # noqa: E402

VARIANTS = ("none", "temperature", "temperature, best")
METRICS = [("log_loss", False), ("ece", False), ("ece_floor", False), ("brier", False), ("balanced_accuracy", True)]


def _fit(variant: str, X, y, seed: int):
    from sknoise import NoisyMLPClassifier
    from sknoise._runtime import _calibration

    model = NoisyMLPClassifier(calibration=None if variant == "none" else "temperature", random_state=seed)
    small_sample = _calibration.SMALL_SAMPLE
    if variant == "temperature, best":
        _calibration.SMALL_SAMPLE = 0  # read when the temperature is fitted: every sample counts as large
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
    finally:
        _calibration.SMALL_SAMPLE = small_sample
    return model, time.perf_counter() - start


def run_fold(task, X, y, fold, train, test, seed, threads) -> list[dict]:
    limit_threads(threads)
    X_tr, y_tr, X_te, y_te = X.iloc[train], y[train], X.iloc[test], y[test]
    rows, predictions = [], []
    for variant in VARIANTS:
        model, fit_s = _fit(variant, X_tr, y_tr, seed)
        proba = model.predict_proba(X_te)
        predictions.append(proba.argmax(axis=1))
        rows.append({"task": task, "fold": fold, "variant": variant, "n_train": len(train),
                     "n_held_out": math.ceil(model.validation_fraction * len(train)),
                     "temperature": float(model.temperature_), "epochs": model.n_iter_, "fit_s": fit_s,
                     **_scores(y_te, proba, model.classes_)})
    # The temperature never changes the predicted class: the three fits trained one network.
    same = all(np.array_equal(predictions[0], p) for p in predictions[1:])
    for row in rows:
        row["same_network"] = same
    return rows


def run(args) -> pd.DataFrame:
    from joblib import Parallel, delayed

    csv = RESULTS / f"{args.out}.csv"
    done = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=["task", "fold"])
    finished = set(zip(done["task"], done["fold"]))
    tasks = load_suite()["classification"]
    names = [t for t in tasks if (not args.tasks or t in args.tasks)
             and (args.part == "all" or (t in HELD_OUT["classification"]) == (args.part == "held-out"))]
    if args.quick:
        names = names[:2]
    units = []
    for task in names:
        X, y = load_task(tasks[task], max_rows=args.max_rows, seed=args.seed)
        for fold, (train, test) in enumerate(folds_of(y, "classification", args.folds, 1, args.seed)):
            if (task, fold) not in finished:
                units.append((task, X, y, fold, train, test))
    print(f"{len(units)} task-folds to run ({len(finished)} already in {csv.name}); {machine_description()}",
          flush=True)
    start, rows = time.time(), []
    jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(run_fold)(*unit, seed=args.seed + unit[3], threads=args.threads) for unit in units
    )
    for i, fold_rows in enumerate(jobs, 1):
        rows.extend(fold_rows)
        save_rows(csv, done, rows)
        elapsed = time.time() - start
        print(f"[{i}/{len(units)}] {fold_rows[0]['task']} fold {fold_rows[0]['fold']} | {elapsed / 60:.1f} min, "
              f"eta {elapsed / i * (len(units) - i) / 60:.1f} min", flush=True)
    return pd.read_csv(csv)


def _paired(res: pd.DataFrame, variant: str, metric: str) -> dict:
    """Per-task means of ``variant`` against ``none``: mean difference, tasks better / worse, Wilcoxon p."""
    from scipy.stats import wilcoxon

    per_task = res.groupby(["task", "variant"])[metric].mean().unstack()
    diff = (per_task[variant] - per_task["none"]).dropna()
    nonzero = diff[diff != 0]
    p = float(wilcoxon(nonzero).pvalue) if len(nonzero) >= 5 else float("nan")
    return {"variant": variant, "metric": metric, "mean difference (variant - none)": float(diff.mean()),
            "tasks better": int((diff < 0).sum()), "tasks worse": int((diff > 0).sum()),
            "tasks equal": int((diff == 0).sum()), "Wilcoxon p": p}


def summarize(res: pd.DataFrame) -> dict:
    per_task = res.groupby(["variant", "task"]).mean(numeric_only=True)
    means = per_task.groupby("variant").mean().reindex(VARIANTS).reset_index()
    paired = [_paired(res, v, m) for v in VARIANTS[1:] for m in ("log_loss", "ece")]
    temps = []
    for variant in VARIANTS[1:]:
        t = res[res.variant == variant].temperature
        temps.append({"variant": variant, "fits": len(t), "T exactly 1": int((t == 1.0).sum()),
                      "share at 1": float((t == 1.0).mean()), "T < 1": int((t < 1).sum()), "T > 1": int((t > 1).sum()),
                      "median T": float(t.median()), "T range": f"{t.min():.3g} - {t.max():.3g}"})
    return {"means": means, "paired": paired, "temperatures": temps}


def plot(res: pd.DataFrame, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    per_task = res.groupby(["task", "variant"])[["log_loss", "ece"]].mean().unstack()
    for ax, metric, label in ((axes[0], "log_loss", "log loss"), (axes[1], "ece", "ECE (15 bins)")):
        for variant, marker in zip(VARIANTS[1:], ("o", "s")):
            diff = (per_task[(metric, variant)] - per_task[(metric, "none")]).sort_values()
            ax.scatter(range(len(diff)), diff.values, marker=marker, s=18, label=variant)
        ax.axhline(0, color="k", lw=1)
        ax.set_xlabel("task (sorted by its difference)")
        ax.set_ylabel(f"{label}: variant - none (per task; below 0: better)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    bins = np.logspace(-1.5, 1.5, 41)
    for variant in VARIANTS[1:]:
        t = res[res.variant == variant].temperature.clip(bins[0], bins[-1])
        axes[2].hist(t, bins=bins, alpha=0.6, label=variant)
    axes[2].set_xscale("log")
    axes[2].set_xlabel("fitted temperature (per task-fold)")
    axes[2].set_ylabel("fits")
    axes[2].legend(fontsize=8)
    axes[2].grid(alpha=0.3)
    fig.suptitle("NoisyMLPClassifier, calibration=None vs 'temperature' on the tabular suite")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    save_figure(fig, name)
    plt.close(fig)


def report(res: pd.DataFrame, args, started) -> None:
    summary = summarize(res)
    held = res.n_held_out
    body = [
        f"Tasks: {res.task.nunique()} classification tasks of the suite ({args.part} part), --max-rows "
        f"{args.max_rows}, {args.folds}-fold CV, {res.groupby(['task', 'fold']).ngroups} task-folds; the default "
        f"NoisyMLPClassifier fitted three times per fold with the same seed ({args.threads} thread(s) per fit, "
        f"{args.jobs} task-fold(s) at a time). Held-out rows per fit (the temperature's sample): "
        f"{int(held.min())} - {int(held.max())} (median {held.median():.0f}); the rule's small-sample "
        "threshold is 500. Same network in all three fits of a fold (identical predicted classes): "
        f"{int(res.groupby(['task', 'fold']).same_network.all().sum())} of {res.groupby(['task', 'fold']).ngroups}.\n",
        "## Mean over tasks\n",
        markdown_table(summary["means"][["variant", *[m for m, _ in METRICS], "temperature", "fit_s"]]
                       .to_dict("records")),
        "",
        "## Against calibration=None, per task (mean over its folds)\n",
        markdown_table(summary["paired"]),
        "",
        "## The fitted temperatures\n",
        markdown_table(summary["temperatures"], floatfmt=".3f"),
        "",
    ]
    per_task = res.groupby(["task", "variant"])[["log_loss", "ece", "temperature"]].mean().unstack()
    per_task.columns = [f"{m} ({v})" for m, v in per_task.columns]
    body += ["## Per task\n", markdown_table(per_task.reset_index().to_dict("records"), floatfmt=".3f"), ""]
    write_report(args.out, "calibration='temperature' on the tabular suite", " ".join(["python", *sys.argv]),
                 "\n".join(body), started=started)
    plot(res, args.out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=lambda s: s.split(","), default=None)
    parser.add_argument("--part", choices=["all", "choice", "held-out"], default="choice")
    parser.add_argument("--max-rows", type=int, default=3000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="calibration")
    parser.add_argument("--quick", action="store_true", help="two tasks, 600 rows")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.out, args.max_rows = f"{args.out}_quick", 600
    started = time.time()
    res = pd.read_csv(RESULTS / f"{args.out}.csv") if args.summary_only else run(args)
    report(res, args, None if args.summary_only else started)


if __name__ == "__main__":
    main()
