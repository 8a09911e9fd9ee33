"""Hyperparameter search: default spaces, optuna (with pruning), shared studies, dask."""

import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna_integration import OptunaSearchCV, SkorchPruningCallback
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknoise import NoisyMLPClassifier, suggest_params

from ._common import CLASSIFIERS as ESTIMATORS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def small(cls, **params):
    return cls(hidden_layer_sizes=(8,), max_epochs=5, random_state=0, **params)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_optuna_space_uses_plain_choices_and_valid_parameters(cls):
    space = cls.search_space()
    valid = cls().get_params()
    for name, dist in space.items():
        assert name in valid
        assert isinstance(dist, (FloatDistribution, IntDistribution, CategoricalDistribution))
        if isinstance(dist, CategoricalDistribution):
            assert all(isinstance(c, (str, int, float, bool)) or c is None for c in dist.choices)
    assert {"noise", "noise_scale", "lr"} <= set(space)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_grid_space_and_prefix(cls):
    grid = cls.search_space("grid", prefix="clf__")
    assert all(name.startswith("clf__") for name in grid)
    assert all(isinstance(values, list) and values for values in grid.values())
    with pytest.raises(ValueError, match="kind"):
        cls.search_space("random")


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_every_point_of_the_spaces_is_accepted(cls, iris):
    X, y = iris
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        trial = study.ask()
        small(cls).set_params(**suggest_params(trial, cls.search_space())).fit(X, y)
    grid = cls.search_space("grid")
    small(cls).set_params(**{name: values[-1] for name, values in grid.items()}).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_optuna_search_cv_with_partial_fit_pruning(cls, iris):
    X, y = iris
    search = OptunaSearchCV(
        small(cls),
        cls.search_space(),
        n_trials=3,
        cv=2,
        enable_pruning=True,
        max_iter=3,
        random_state=0,
        verbose=0,
    )
    search.fit(X, y)
    assert len(search.trials_) == 3
    assert search.best_estimator_.predict(X).shape == y.shape
    # enable_pruning trains through partial_fit: one epoch per call.
    assert search.best_estimator_.n_iter_ >= 1


def test_skorch_pruning_callback_inside_one_fit(iris):
    X, y = iris

    def objective(trial):
        clf = NoisyMLPClassifier(
            (8,),
            max_epochs=20,
            early_stopping=True,
            noise_scale=trial.suggest_float("noise_scale", 0.01, 1.0, log=True),
            callbacks=[SkorchPruningCallback(trial, "valid_loss")],
            random_state=0,
        ).fit(X, y)
        return clf.validation_loss_curve_[-1]

    # A pruner that prunes everything after the first reported epoch shows the callback is wired in.
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    study.optimize(objective, n_trials=2)
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)


def test_two_worker_processes_share_one_study(tmp_path):
    journal = tmp_path / "study.journal"
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "optuna_worker.py"),
        "--storage",
        f"journal:{journal}",
        "--n-trials",
        "2",
        "--max-epochs",
        "3",
    ]
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="sknoise", storage=JournalStorage(JournalFileBackend(str(journal))))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4
    assert len({t.user_attrs["worker_pid"] for t in complete}) == 2


def test_grid_search_on_a_dask_cluster_matches_a_local_search(iris):
    distributed = pytest.importorskip("distributed")
    X, y = iris

    def search():
        return GridSearchCV(
            make_pipeline(StandardScaler(), small(NoisyMLPClassifier)),
            {"noisymlpclassifier__noise_scale": [0.05, 0.2]},
            cv=2,
            n_jobs=-1,
        )

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster), joblib.parallel_backend("dask"):
            remote = search().fit(X, y)
    local = search().set_params(n_jobs=1).fit(X, y)
    # Seeded fits: the cluster's workers compute exactly what a local run computes.
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert len(remote.cv_results_["mean_test_score"]) == 2
