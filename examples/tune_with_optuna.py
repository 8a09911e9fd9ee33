"""Tune every sknoise estimator with optuna, keep the studies, and measure what tuning gains.

For each estimator the script searches its default space
(``Estimator.search_space(prefix="clf__")``, asked for through
:func:`sknoise.suggest_params`) inside ``Pipeline(StandardScaler, estimator)`` on the
digits data set (1797 rows, 64 features, 10 classes):

* data: one stratified split, 75 % training and 25 % test (``random_state=0``); the
  search never sees the test part;
* objective: mean 3-fold cross-validated **accuracy** on the training part (the CV
  log loss is kept as a trial attribute); optuna's ``TPESampler(seed=0)``; every
  model is fitted with ``random_state=0`` so trials differ by their parameters only;
* fixed settings, shared by tuned and default models: one hidden layer of 64 units,
  ``max_epochs=50``, early stopping on (the estimators' default);
* a trial whose training diverges (``TrainingDivergedError``) is recorded as pruned,
  so that the sampler learns to avoid that region; one whose parameters the
  estimator rejects is recorded as failed with the reason.

Each study lives in its own journal file under ``--storage-dir`` (``JournalStorage`` +
``JournalFileBackend``), opened with ``load_if_exists=True``: a rerun resumes an
interrupted search and only runs the trials still missing up to ``--n-trials``.

Then the best configuration and the default one ("default" = the estimator's
constructor defaults plus the fixed settings above) are refitted on the whole training
part with ``random_state`` 0..4 and scored on the test part (accuracy and log loss).
NoisyMLPClassifier is also shown with its untouched library defaults ((256, 256),
``max_epochs=200``) for reference. Finally ``OptunaSearchCV`` from
``optuna_integration`` tunes NoisyMLPClassifier once more with pruning: it calls
``partial_fit`` (one epoch each) and stops unpromising trials early.

Writes ``benchmarks/results/tuning.md`` and, per estimator,
``tuning_<name>_history.png`` and ``tuning_<name>_importances.png``.

    python examples/tune_with_optuna.py                      # the full run (its time and machine: tuning.md)
    python examples/tune_with_optuna.py --quick              # a smoke run under a minute (*_quick files)
    python examples/tune_with_optuna.py --storage-dir /tmp/studies --n-trials 50

Several processes can share a study: see ``examples/optuna_worker.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import torch  # noqa: E402
from optuna.distributions import CategoricalDistribution  # noqa: E402
from optuna.importance import FanovaImportanceEvaluator, get_param_importances  # noqa: E402
from optuna.storages import JournalStorage  # noqa: E402
from optuna.storages.journal import JournalFileBackend  # noqa: E402
from optuna.trial import TrialState  # noqa: E402
from optuna_integration import OptunaSearchCV  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, machine_description, markdown_table, mean_std, report_header  # noqa: E402
from sknoise import (  # noqa: E402
    NINRClassifier,
    NoisyEBMClassifier,
    NoisyMLPClassifier,
    TrainingDivergedError,
    suggest_params,
)

#: Short name (for files and tables) -> estimator class.
ESTIMATORS = {"mlp": NoisyMLPClassifier, "ninr": NINRClassifier, "ebm": NoisyEBMClassifier}


def settings(quick: bool) -> dict:
    """Run sizes: the full run, or a smoke run of about a minute."""
    if quick:
        return dict(n_trials=6, max_epochs=15, cv=2, seeds=2, search_cv_trials=4, search_cv_epochs=6)
    return dict(n_trials=30, max_epochs=50, cv=3, seeds=5, search_cv_trials=20, search_cv_epochs=30)


def pipeline(cls, fixed: dict, **params) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", cls(**fixed))]).set_params(**params)


def open_study(name: str, storage_dir: Path, **kwargs) -> optuna.Study:
    """A study kept in ``storage_dir/<name>.journal``, resumed when it exists."""
    storage = JournalStorage(JournalFileBackend(str(storage_dir / f"{name}.journal")))
    return optuna.create_study(study_name=name, storage=storage, load_if_exists=True, direction="maximize", **kwargs)


def finished(study: optuna.Study) -> list:
    # A trial left RUNNING by an interrupted run is not finished: the rerun replaces it.
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))


def make_objective(cls, fixed: dict, X, y, cv):
    space = cls.search_space(prefix="clf__")

    def objective(trial: optuna.Trial) -> float:
        model = pipeline(cls, {**fixed, "random_state": 0}, **suggest_params(trial, space))
        try:
            scores = cross_validate(model, X, y, cv=cv, scoring=("accuracy", "neg_log_loss"), error_score="raise")
        except TrainingDivergedError as exc:
            trial.set_user_attr("diverged", str(exc).splitlines()[0])
            raise optuna.TrialPruned() from exc
        trial.set_user_attr("cv_log_loss", float(-scores["test_neg_log_loss"].mean()))
        trial.set_user_attr("fit_seconds", float(scores["fit_time"].mean()))
        return float(scores["test_accuracy"].mean())

    return objective


def progress(label: str, total: int):
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        value = "diverged" if "diverged" in trial.user_attrs else trial.state.name.lower()
        if trial.state == TrialState.COMPLETE:
            value = f"{trial.value:.4f}"
        best = study.best_value if any(t.state == TrialState.COMPLETE for t in study.trials) else float("nan")
        print(f"  [{label}] trial {trial.number + 1:3d}/{total}: {value:>9s}  best {best:.4f}", flush=True)

    return callback


def default_point(cls, fixed: dict, space: dict) -> tuple[dict, list[str]]:
    """The default configuration as a point of the space, and the values moved to fit in it."""
    defaults = pipeline(cls, fixed).get_params()
    point, moved = {}, []
    for name, dist in space.items():
        value = defaults[name]
        if isinstance(dist, CategoricalDistribution):
            if value is None and "none" in dist.choices:
                value = "none"  # the same setting, spelled as a plain choice
            if value not in dist.choices:
                moved.append(f"{name.removeprefix('clf__')}={value!r} not a choice, left to the sampler")
                continue
        elif not dist.low <= value <= dist.high:
            clipped = min(max(value, dist.low), dist.high)
            moved.append(
                f"{name.removeprefix('clf__')}={value!r} outside [{dist.low:g}, {dist.high:g}], tried as {clipped:g}"
            )
            value = clipped
        point[name] = value
    return point, moved


def tune(name: str, cls, fixed: dict, X, y, args, cfg) -> optuna.Study:
    study = open_study(f"tune_{name}_digits{args.suffix}", args.storage_dir, sampler=optuna.samplers.TPESampler(seed=0))
    if not study.trials:
        # Start from the defaults, so that the search can only improve on them (in CV).
        point, moved = default_point(cls, fixed, cls.search_space(prefix="clf__"))
        study.enqueue_trial(point, user_attrs={"defaults_moved": "; ".join(moved) or "none"})
    todo = cfg["n_trials"] - len(finished(study))
    print(f"{cls.__name__}: {len(finished(study))} finished trials in the study, running {max(todo, 0)} more")
    if todo > 0:
        cv = StratifiedKFold(cfg["cv"], shuffle=True, random_state=0)
        start = time.perf_counter()
        study.optimize(
            make_objective(cls, fixed, X, y, cv),
            n_trials=todo,
            catch=(ValueError, TypeError),  # a value the estimator rejects: a failed trial, with its reason
            callbacks=[progress(name, cfg["n_trials"])],
        )
        add_seconds(study, time.perf_counter() - start)
    return study


def add_seconds(study: optuna.Study, seconds: float) -> None:
    """Keep the search time in the study, summed over the runs that resumed it."""
    study.set_user_attr("search_seconds", study.user_attrs.get("search_seconds", 0.0) + seconds)


def importances(study: optuna.Study) -> dict[str, float]:
    try:
        return get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError) as exc:  # too few complete trials
        print(f"  no importances: {exc}")
        return {}


def plot_study(name: str, study: optuna.Study, args) -> list[str]:
    from optuna.visualization.matplotlib import plot_optimization_history, plot_param_importances

    files = []
    titles = {"history": "search history (CV accuracy)", "importances": "parameter importances (fANOVA)"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for kind, draw in (
            ("history", lambda: plot_optimization_history(study, target_name="CV accuracy")),
            ("importances", lambda: plot_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))),
        ):
            try:
                ax = draw()
            except (ValueError, RuntimeError) as exc:
                print(f"  no {kind} plot: {exc}")
                continue
            ax.set_title("")
            ax.set_title("", loc="left")
            fig = ax.get_figure()
            fig.suptitle(f"{ESTIMATORS[name].__name__} on digits: {titles[kind]}", fontsize=12)
            fig.set_size_inches(7.5, 4.5)
            fig.tight_layout()
            path = args.out / f"tuning_{name}_{kind}{args.suffix}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            files.append(path.name)
    return files


def evaluate(cls, fixed: dict, params: dict, data, seeds: int) -> dict:
    """Fit on the whole training part with ``seeds`` random states, score on the test part."""
    Xtr, Xte, ytr, yte = data
    acc, loss, secs, epochs = [], [], [], []
    for seed in range(seeds):
        model = pipeline(cls, {**fixed, "random_state": seed}, **params)
        start = time.perf_counter()
        model.fit(Xtr, ytr)
        secs.append(time.perf_counter() - start)
        epochs.append(model[-1].n_iter_)
        proba = model.predict_proba(Xte)
        acc.append(accuracy_score(yte, model.classes_[proba.argmax(1)]))
        loss.append(log_loss(yte, proba, labels=model.classes_))
    return {"acc": np.array(acc), "loss": np.array(loss), "secs": float(np.mean(secs)), "epochs": epochs}


def search_cv_demo(Xtr, ytr, args, cfg) -> dict:
    """OptunaSearchCV with pruning: partial_fit trains one epoch per step, the pruner stops laggards."""
    # partial_fit needs the estimator itself rather than a Pipeline, so the data are scaled
    # once beforehand (with the scaler fitted on the whole training part).
    X = StandardScaler().fit_transform(Xtr)
    study = open_study(
        f"searchcv_mlp_digits{args.suffix}",
        args.storage_dir,
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3),
    )
    todo = cfg["search_cv_trials"] - len(finished(study))
    if todo > 0:
        start = time.perf_counter()
        print(f"OptunaSearchCV (NoisyMLPClassifier, pruning): running {todo} trials")
        # Early stopping would hold out rows on every partial_fit call: off, the pruner does that job.
        estimator = NoisyMLPClassifier((64,), max_epochs=cfg["search_cv_epochs"], early_stopping=False, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # OptunaSearchCV still touches the deprecated optuna.terminator module.
            warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
            search = OptunaSearchCV(
                estimator,
                NoisyMLPClassifier.search_space(),
                cv=StratifiedKFold(cfg["cv"], shuffle=True, random_state=0),
                enable_pruning=True,
                max_iter=cfg["search_cv_epochs"],
                n_trials=todo,
                study=study,
                scoring="accuracy",
                refit=False,
                error_score=np.nan,
                verbose=0,
            )
            search.fit(X, ytr)
        add_seconds(study, time.perf_counter() - start)
    states = [t.state for t in finished(study)]
    best = study.best_trial if TrialState.COMPLETE in states else None
    return {
        "study": study.study_name,
        "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED),
        "failed": states.count(TrialState.FAIL),
        "best_value": best.value if best else float("nan"),
        "best_params": best.params if best else {},
        "seconds": study.user_attrs.get("search_seconds", float("nan")),
    }


# ----------------------------------------------------------------------------- report
def fmt(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def sample_mean_std(values: np.ndarray) -> str:
    """``'mean ± std'`` over the seeds, 4 decimals, sample std (ddof=1) as the report says."""
    return mean_std(values, digits=4, ddof=1)


def summary(name: str, res: dict) -> str:
    tuned, default = res["tuned"], res["default"]
    gain = tuned["acc"].mean() - default["acc"].mean()
    spread = np.hypot(tuned["acc"].std(ddof=1), default["acc"].std(ddof=1))
    verdict = "larger than" if abs(gain) > spread else "within"
    direction = "gains" if gain >= 0 else "loses"
    loss_change = tuned["loss"].mean() - default["loss"].mean()
    return (
        f"- {ESTIMATORS[name].__name__}: tuning {direction} {abs(gain) * 100:.2f} accuracy points on the test part "
        f"({verdict} the seed-to-seed spread of {spread * 100:.2f} points); log loss changes by "
        f"{loss_change:+.4f}. The tuned `lr` and `weight_decay` alone, with the default noise settings, account "
        f"for {(res['optimizer']['acc'].mean() - default['acc'].mean()) * 100:+.2f} points of it."
    )


CONFIG_LABELS = {
    "default": "default",
    "optimizer": "default + tuned lr and weight_decay only",
    "tuned": "tuned",
    "library": "library defaults (256, 256), 200 epochs",
}


def reading_notes(studies: dict, results: dict, fixed: dict) -> list[str]:
    """Observations computed from the runs: the epoch cap, and parameters that cannot matter."""
    notes = []
    for name, res in results.items():
        cls = ESTIMATORS[name].__name__
        capped = sum(e >= fixed["max_epochs"] for e in res["default"]["epochs"])
        if capped:
            notes.append(
                f"- {cls}, default: {capped} of {len(res['default']['epochs'])} fits ran into the "
                f"`max_epochs={fixed['max_epochs']}` cap before early stopping could stop them, so part of the gain "
                "over it can be a larger learning rate making up for the short budget rather than better noise."
            )
    for name, study in studies.items():
        cls = ESTIMATORS[name]
        space = cls.search_space(prefix="clf__")
        if "clf__n_inference_samples" not in space:
            continue
        share = importances(study).get("clf__n_inference_samples", float("nan"))
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "clf__inference_noise" in space:
            on = sum(t.params.get("clf__inference_noise") not in (None, "none") for t in complete)
            notes.append(
                f"- {cls.__name__}: `n_inference_samples` acts only when `inference_noise` is on "
                f"({on} of {len(complete)} complete trials); fANOVA gives it {share:.2f} of the importance."
            )
        elif cls().inference_noise is None:
            notes.append(
                f"- {cls.__name__}: `n_inference_samples` is searched but cannot act (its space leaves "
                f"`inference_noise` at its default `None`, so prediction is deterministic); fANOVA still gives "
                f"it {share:.2f} of the importance, a measure of how noisy importances from "
                f"{len(complete)} trials are."
            )
    return notes


def write_report(args, cfg, fixed, studies, results, plots, demo, started, machine, data) -> Path:
    cmd = "python examples/tune_with_optuna.py" + (" --quick" if args.quick else "")
    if args.n_trials is not None:
        cmd += f" --n-trials {args.n_trials}"
    Xtr, Xte = data[0], data[1]
    title = "Tuning sknoise estimators with optuna" + (" (quick smoke run)" if args.quick else "")
    lines = [
        f"Studies kept in `{args.storage_dir}`; the run time above is this run's (searches resumed from their "
        "journals take only the missing trials).",
        "",
        f"Data: `load_digits`, one stratified split: {len(Xtr)} training rows, {len(Xte)} test rows "
        "(`random_state=0`). Model: `Pipeline(StandardScaler, estimator)` with "
        f"`hidden_layer_sizes={fixed['hidden_layer_sizes']}`, `max_epochs={fixed['max_epochs']}`, early stopping on. "
        f"Search: `TPESampler(seed=0)`, {cfg['n_trials']} trials per estimator over "
        '`Estimator.search_space(prefix="clf__")` through `sknoise.suggest_params`; objective = mean '
        f"{cfg['cv']}-fold CV accuracy on the training part, every fit with `random_state=0`. Diverged trials "
        "are recorded as pruned.",
        "",
        "## Searches",
        "",
    ]
    rows = []
    for name, study in studies.items():
        states = [t.state for t in finished(study)]
        best = study.best_trial
        rows.append({
            "estimator": ESTIMATORS[name].__name__,
            "trials (complete / pruned-diverged / failed)": f"{states.count(TrialState.COMPLETE)} / "
            f"{states.count(TrialState.PRUNED)} / {states.count(TrialState.FAIL)}",
            "search min": f"{study.user_attrs.get('search_seconds', np.nan) / 60:.1f}",
            "best CV accuracy": best.value,
            "CV log loss of best": best.user_attrs.get("cv_log_loss", np.nan),
            "default's CV accuracy": results[name]["default_cv"],
            "best parameters": ", ".join(f"`{k.removeprefix('clf__')}={fmt(v)}`" for k, v in best.params.items()),
        })
    lines.append(markdown_table(rows))
    lines += [
        "",
        "Trial 0 of every search is the default configuration (`study.enqueue_trial`); where a default "
        "lies outside the space it was moved:",
        "",
    ]
    for name, study in studies.items():
        lines.append(f"- {ESTIMATORS[name].__name__}: {study.trials[0].user_attrs.get('defaults_moved', '?')}")
    lines += ["", "Parameter importances (fANOVA, `seed=0`; most important first):", ""]
    for name, study in studies.items():
        imp = importances(study)
        text = ", ".join(f"{k.removeprefix('clf__')} {v:.2f}" for k, v in imp.items()) or "not available"
        lines.append(f"- {ESTIMATORS[name].__name__}: {text}")
    for name, study in studies.items():
        reasons = {t.system_attrs.get("fail_reason", "?") for t in study.trials if t.state == TrialState.FAIL}
        reasons |= {t.user_attrs["diverged"] for t in study.trials if "diverged" in t.user_attrs}
        if reasons:
            lines.append(f"- {ESTIMATORS[name].__name__}, failed or diverged trials: " + "; ".join(sorted(reasons)))
    lines += [
        "",
        "## Tuned against default on the test part",
        "",
        f"Each configuration refitted on the {len(Xtr)} training rows with `random_state` 0..{cfg['seeds'] - 1} "
        f"(the split stays fixed, so the spread is training randomness only), scored on the {len(Xte)} test rows; "
        'mean ± std (ddof=1) over the seeds. "Default" = the constructor\'s defaults with the fixed settings above '
        "(hidden (64,), max_epochs "
        f'{fixed["max_epochs"]}); "tuned" = the same plus the best parameters of the search.',
        "",
    ]
    rows = [
        {
            "estimator": ESTIMATORS[name].__name__,
            "configuration": label,
            "test accuracy": sample_mean_std(res[key]["acc"]),
            "test log loss": sample_mean_std(res[key]["loss"]),
            "epochs run per seed": ", ".join(map(str, res[key]["epochs"])),
            "fit s": f"{res[key]['secs']:.1f}",
        }
        for name, res in results.items()
        for key, label in CONFIG_LABELS.items()
        if key in res
    ]
    lines.append(markdown_table(rows))
    lines += ["", "Gain of tuning:", ""]
    lines += [summary(name, res) for name, res in results.items()]
    if demo:
        params = ", ".join(f"`{k}={fmt(v)}`" for k, v in demo["best_params"].items())
        lines += [
            "",
            "## OptunaSearchCV with pruning",
            "",
            f"`OptunaSearchCV(NoisyMLPClassifier((64,), early_stopping=False), NoisyMLPClassifier.search_space(), "
            f"enable_pruning=True, max_iter={cfg['search_cv_epochs']}, cv={cfg['cv']})` with a `MedianPruner` "
            "(each `partial_fit` is one epoch; the data scaled once beforehand since a Pipeline has no "
            f"`partial_fit`): {demo['complete']} complete, {demo['pruned']} pruned and {demo['failed']} failed "
            f"trials in {demo['seconds']:.0f} s, best CV accuracy {demo['best_value']:.4f} with {params}.",
        ]
    lines += ["", "## Figures", ""]
    lines += [f"- `{f}`" for f in plots]
    lines += [
        "",
        "## Reading",
        "",
        "The gain is measured once, on one split of one small data set, with a short search "
        f"({cfg['n_trials']} trials: the defaults first, then up to 9 random start-up trials before TPE takes "
        "over) and with the search fitting every "
        "model with the same seed, so the best CV score is optimistic: the test columns are the fair comparison. "
        "A gain that is within the seed-to-seed spread is not evidence that the tuned configuration is better.",
        "",
        *reading_notes(studies, results, fixed),
        "",
    ]
    path = args.out / f"tuning{args.suffix}.md"
    path.write_text(report_header(title, cmd, machine, started) + "\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute (writes *_quick files)")
    parser.add_argument("--storage-dir", type=Path, default=Path("optuna_studies"), help="where the journals live")
    parser.add_argument("--n-trials", type=int, default=None, help="trials per estimator (default 30, quick 6)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (small nets: 1 is fastest)")
    parser.add_argument("--skip-search-cv", action="store_true", help="leave out the OptunaSearchCV demo")
    args = parser.parse_args()
    args.suffix = "_quick" if args.quick else ""
    cfg = settings(args.quick)
    if args.n_trials is not None:
        cfg["n_trials"] = args.n_trials
    torch.set_num_threads(args.threads)
    # Measured before the runs load the machine; optuna is this script's addition to the versions.
    machine = f"{machine_description()}, optuna {optuna.__version__}"
    print(f"machine: {machine}", flush=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args.storage_dir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    started, t0 = time.time(), time.perf_counter()

    X, y = load_digits(return_X_y=True)
    data = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    Xtr, ytr = data[0], data[2]
    fixed = {"hidden_layer_sizes": (64,), "max_epochs": cfg["max_epochs"]}

    studies, results, plots = {}, {}, []
    for name, cls in ESTIMATORS.items():
        study = studies[name] = tune(name, cls, fixed, Xtr, ytr, args, cfg)
        plots += plot_study(name, study, args)
        best = study.best_params
        print(f"  best CV accuracy {study.best_value:.4f}: {best}")
        cv = StratifiedKFold(cfg["cv"], shuffle=True, random_state=0)
        default_cv = cross_validate(pipeline(cls, {**fixed, "random_state": 0}), Xtr, ytr, cv=cv)["test_score"]
        res = results[name] = {"default_cv": float(default_cv.mean())}
        res["default"] = evaluate(cls, fixed, {}, data, cfg["seeds"])
        res["tuned"] = evaluate(cls, fixed, best, data, cfg["seeds"])
        # Ablation: does the gain come from the noise settings or from the optimizer's?
        optimizer_only = {k: v for k, v in best.items() if k in ("clf__lr", "clf__weight_decay")}
        res["optimizer"] = evaluate(cls, fixed, optimizer_only, data, cfg["seeds"])
        if cls is NoisyMLPClassifier and not args.quick:
            res["library"] = evaluate(cls, {}, {}, data, cfg["seeds"])
        for key in CONFIG_LABELS:
            if key in res:
                print(f"  test {key:8s}: accuracy {sample_mean_std(res[key]['acc'])}, "
                      f"log loss {sample_mean_std(res[key]['loss'])}")
        print(f"  [{time.perf_counter() - t0:.0f} s]", flush=True)

    demo = None if args.skip_search_cv else search_cv_demo(Xtr, ytr, args, cfg)
    if demo:
        print(f"  OptunaSearchCV: {demo['complete']} complete, {demo['pruned']} pruned, best {demo['best_value']:.4f}")
    path = write_report(args, cfg, fixed, studies, results, plots, demo, started, machine, data)
    print(f"wrote {path} and {len(plots)} figures in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
