"""Prediction intervals on the tabular suite's regression tasks: coverage and width.

For every task and fold (the suite's folds, rows capped as there), each model gives a
95% interval (``--alpha``) for every test row:

- ``NoisyMLP`` / ``NoisyMLP gaussian_nll``: ``NoisyMLPRegressor().predict_interval(X)``
  (split conformal on the rows early stopping holds out), with the default loss and with
  the heteroscedastic Gaussian head; also the coverage of ``mean ± 1.96 · std`` from
  ``predict(X, return_std=True)``;
- ``HGB conformal`` / ``CatBoost conformal``: the anchor at its defaults fitted on 90% of
  the training fold, its absolute residuals on the other 10% (drawn with the fold's
  seed) giving the split-conformal quantile: ``prediction ± q``.

Reported per task and on average: coverage of the test targets (target: 93-97% on
average over the held-out tasks, none below 88%), the mean interval width divided by
that of ``HGB conformal`` on the same rows, and R². Results go to
``benchmarks/results/<out>.csv`` as they come (the run resumes) and ``<out>.md`` / ``.png``.

Usage::

    python benchmarks/regression_intervals.py --part held-out --jobs 2
    python benchmarks/regression_intervals.py --quick
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
    code_version,
    limit_threads,
    load_suite,
    load_task,
    machine_description,
    markdown_table,
    save_figure,
    save_rows,
    write_report,
)
from benchmarks.tabular_suite import HELD_OUT, folds_of, make_model  # noqa: E402

MODELS = ["NoisyMLP", "NoisyMLP gaussian_nll", "HGB conformal", "CatBoost conformal"]
QUICK_MODELS = ["NoisyMLP", "HGB conformal"]
REFERENCE = "HGB conformal"


def _conformal_anchor(name: str, X_tr, y_tr, X_te, alpha: float, seed: int, threads: int):
    """An anchor fitted on 90% of the rows, its interval half-width the conformal quantile of the other 10%."""
    from sklearn.model_selection import train_test_split

    fit_rows, cal_rows = train_test_split(np.arange(len(y_tr)), test_size=0.1, random_state=seed)
    model = make_model(name, "regression", X_tr, seed, threads)
    model.fit(X_tr.iloc[fit_rows], y_tr[fit_rows])
    scores = np.sort(np.abs(y_tr[cal_rows] - np.asarray(model.predict(X_tr.iloc[cal_rows]), dtype=float)))
    rank = math.ceil((len(scores) + 1) * (1 - alpha))
    q = scores[rank - 1] if rank <= len(scores) else np.inf
    pred = np.asarray(model.predict(X_te), dtype=float)
    return pred, pred - q, pred + q, None


def _sknoise(loss: str, X_tr, y_tr, X_te, alpha: float, seed: int):
    import sknoise

    model = sknoise.NoisyMLPRegressor(loss=loss, random_state=seed).fit(X_tr, y_tr)
    lower, upper = model.predict_interval(X_te, alpha=alpha)
    mean, std = model.predict(X_te, return_std=True)
    return mean, lower, upper, std


def run_fold(task, model_name, fold, train, test, X, y, alpha, seed, threads) -> dict:
    from sklearn.metrics import r2_score

    limit_threads(threads)
    X_tr, X_te, y_tr, y_te = X.iloc[train], X.iloc[test], y[train].astype(float), y[test].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        if model_name.endswith("conformal"):
            pred, lower, upper, std = _conformal_anchor(model_name.split()[0], X_tr, y_tr, X_te, alpha, seed, threads)
        else:
            loss = "gaussian_nll" if model_name.endswith("gaussian_nll") else "squared_error"
            pred, lower, upper, std = _sknoise(loss, X_tr, y_tr, X_te, alpha, seed)
        seconds = time.perf_counter() - start
    row = {"task": task, "model": model_name, "fold": fold, "n_train": len(train), "seconds": seconds,
           "r2": r2_score(y_te, pred), "coverage": float(np.mean((y_te >= lower) & (y_te <= upper))),
           "width": float(np.mean(upper - lower)), "target_std": float(np.std(y_te))}
    if std is not None:
        row["coverage_std_1.96"] = float(np.mean(np.abs(y_te - pred) <= 1.96 * std))
    return row


def run(args) -> pd.DataFrame:
    from joblib import Parallel, delayed

    csv = RESULTS / f"{args.out}.csv"
    done = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=["task", "model", "fold"])
    finished = set(zip(done["task"], done["model"], done["fold"]))
    suite = load_suite()["regression"]
    tasks = [t for t in suite if args.part == "all" or (t in HELD_OUT["regression"]) == (args.part == "held-out")]
    tasks = tasks[:2] if args.quick else tasks
    models = QUICK_MODELS if args.quick else MODELS
    units = []
    for task in tasks:
        X, y = load_task(suite[task], max_rows=args.max_rows, seed=args.seed)
        for fold, (train, test) in enumerate(folds_of(y, "regression", args.folds, 1, args.seed)):
            units += [(task, m, fold, train, test, X, y) for m in models if (task, m, fold) not in finished]
    print(f"{len(units)} fits to run ({len(finished)} done); {machine_description()}", flush=True)
    start, rows = time.time(), []
    jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(run_fold)(*unit, alpha=args.alpha, seed=args.seed + unit[2], threads=1) for unit in units)
    for i, row in enumerate(jobs, 1):
        rows.append(row)
        save_rows(csv, done, rows)
        elapsed = time.time() - start
        print(f"[{i}/{len(units)}] {row['task']} {row['model']} fold {row['fold']}: coverage {row['coverage']:.3f} "
              f"width {row['width']:.3g} | {elapsed / 60:.1f} min, eta {elapsed / i * (len(units) - i) / 60:.1f} min",
              flush=True)
    return pd.read_csv(csv)


def summarize(results: pd.DataFrame, part: str) -> tuple[str, pd.DataFrame]:
    held = set(HELD_OUT["regression"])
    res = results if part == "all" else results[results.task.isin(held) == (part == "held-out")]
    complete = res.groupby("task").model.nunique()
    res = res[res.task.isin(complete[complete == res.model.nunique()].index)]
    if res.empty:
        return "", pd.DataFrame()
    per_task = res.groupby(["task", "model"])[["coverage", "width", "r2", "seconds"]].mean()
    width = per_task["width"].unstack()
    ratio = width.div(width[REFERENCE], axis=0) if REFERENCE in width else width * np.nan
    coverage = per_task["coverage"].unstack()
    rows = []
    for model in coverage.columns:
        row = {"model": model, "mean coverage": coverage[model].mean(), "lowest task coverage": coverage[model].min(),
               "tasks below 0.88": int((coverage[model] < 0.88).sum()),
               f"width / {REFERENCE}'s (mean of per-task ratios)": ratio[model].mean(),
               "R²": per_task["r2"].unstack()[model].mean(), "seconds": per_task["seconds"].unstack()[model].mean()}
        if "coverage_std_1.96" in res:
            value = res[res.model == model]["coverage_std_1.96"].mean()
            row["coverage of mean ± 1.96 std"] = value if np.isfinite(value) else None
        rows.append(row)
    text = f"{coverage.shape[0]} tasks ({part}), {res.fold.nunique()} folds each.\n\n" + markdown_table(rows)
    detail = pd.concat({"coverage": coverage, "width ratio": ratio}, axis=1)
    return text, detail


def report(results: pd.DataFrame, args, started: float | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    body = [f"Level: {1 - args.alpha:.0%} intervals. Rows per task capped at {args.max_rows}; "
            f"{args.folds}-fold CV (the suite's folds); one thread per fit, {args.jobs} fits at a time. "
            f"Held-out tasks: {', '.join(HELD_OUT['regression'])}.\n"]
    for part in ("held-out", "choice", "all"):
        text, detail = summarize(results, part)
        if text:
            body.append(f"## {part} tasks\n\n{text}\n")
            if part == "held-out":
                body.append("Per task (coverage; width relative to HGB conformal's):\n")
                flat = detail.copy()
                flat.columns = [f"{a}: {b}" for a, b in flat.columns]
                body.append(markdown_table([{"task": t, **r.to_dict()} for t, r in flat.iterrows()],
                                           ["task", *flat.columns]) + "\n")
                fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
                cov = detail["coverage"]
                for i, model in enumerate(cov.columns):
                    axes[0].scatter(cov[model], np.full(len(cov), i), alpha=0.6)
                    axes[0].plot([cov[model].mean()] * 2, [i - 0.3, i + 0.3], color="k")
                axes[0].axvspan(0.93, 0.97, color="tab:green", alpha=0.15)
                axes[0].axvline(0.88, color="tab:red", lw=0.8)
                axes[0].set_yticks(range(len(cov.columns)), cov.columns)
                axes[0].set_xlabel(f"coverage of the {1 - args.alpha:.0%} interval per task (bar: mean)")
                ratio = detail["width ratio"]
                for i, model in enumerate(ratio.columns):
                    axes[1].scatter(ratio[model], np.full(len(ratio), i), alpha=0.6)
                    axes[1].plot([ratio[model].mean()] * 2, [i - 0.3, i + 0.3], color="k")
                axes[1].axvline(1.0, color="k", lw=0.8)
                axes[1].set_yticks(range(len(ratio.columns)), ratio.columns)
                axes[1].set_xscale("log")
                axes[1].set_xlabel("mean width / HGB conformal's, per task (log)")
                fig.suptitle(f"{args.out}: prediction intervals on the held-out regression tasks")
                fig.tight_layout()
                save_figure(fig, args.out)
                plt.close(fig)
                body.append(f"![intervals]({args.out}.png)\n")
    write_report(args.out, "Prediction intervals on the suite's regression tasks", " ".join(["python", *sys.argv]),
                 "\n".join(body), started=started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["held-out", "choice", "all"], default="held-out")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--max-rows", type=int, default=10000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="regression_intervals")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.out += "_quick"
    started = time.time()
    results = pd.read_csv(RESULTS / f"{args.out}.csv") if args.summary_only else run(args)
    if not args.summary_only:
        print(f"code at {code_version()}", flush=True)
    report(results, args, None if args.summary_only else started)


if __name__ == "__main__":
    main()
