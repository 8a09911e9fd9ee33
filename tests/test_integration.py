"""scikit-learn integration: pipelines, clone, grid search with real workers, CV, pickling, get/set_params."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch.callbacks import LRScheduler

from sknoise import NoisyMLPClassifier

FAST = dict(hidden_layer_sizes=(16,), max_epochs=30, lr=0.02, early_stopping=False, random_state=0)


def fast(**params) -> NoisyMLPClassifier:
    return NoisyMLPClassifier(**{**FAST, **params})


def mixed_frame(n=300, seed=0):
    """Numeric columns with missing values and a string category carrying part of the signal."""
    X, y = make_classification(n, n_features=4, n_informative=3, n_redundant=0, random_state=seed)
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df.loc[rng.random(n) < 0.1, "a"] = np.nan
    df.loc[rng.random(n) < 0.1, "c"] = np.nan
    colour = np.where(y == 1, "red", "blue").astype(object)
    flip = rng.random(n) < 0.2
    colour[flip] = rng.choice(["red", "blue", "green"], size=flip.sum())
    colour[rng.random(n) < 0.05] = None
    df["colour"] = colour
    return df, np.where(y == 1, "yes", "no")


def test_pipeline_with_column_transformer():
    df, y = mixed_frame()
    assert df[["a", "c", "colour"]].isna().any().all()
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b", "c", "d"]),
            (
                "cat",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                ["colour"],
            ),
        ],
        sparse_threshold=0.0,
    )
    model = make_pipeline(pre, fast(noise_scale=0.2))
    train, test = slice(0, 200), slice(200, None)
    model.fit(df.iloc[train], y[train])
    clf = model[-1]
    assert clf.n_features_in_ == 4 + 3
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    assert model.score(df.iloc[test], y[test]) > 0.8
    # Unknown category at prediction time is handled by the encoder.
    unseen = df.iloc[test].copy()
    unseen["colour"] = "purple"
    assert set(model.predict(unseen)) <= {"no", "yes"}


def test_clone_gives_an_unfitted_estimator_with_equal_params(iris):
    X, y = iris
    laplace = torch.distributions.Laplace(0.0, 1.0)
    clf = fast(noise=laplace, noise_placement=("input", "post_activation"), max_epochs=2).fit(X, y)
    twin = clone(clf)
    assert not hasattr(twin, "net_") and not hasattr(twin, "classes_")
    params, twin_params = clf.get_params(), twin.get_params()
    assert params.keys() == twin_params.keys()
    for name, value in params.items():
        if name == "noise":
            assert isinstance(twin_params[name], torch.distributions.Laplace)
        else:
            assert twin_params[name] == value, name
    # The clone trains to the same model.
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), clf.predict_proba(X))


@pytest.mark.slow  # starts two loky workers that import torch
def test_grid_search_with_worker_processes(iris):
    X, y = iris
    grid = GridSearchCV(
        fast(max_epochs=15),
        {"noise": ["gaussian", "uniform"], "noise_scale": [0.05, 0.5]},
        cv=3,
        n_jobs=2,
    )
    grid.fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.isfinite(scores).all() and (scores > 0.7).all()
    assert grid.best_params_["noise"] in ("gaussian", "uniform")
    assert grid.best_estimator_.noise_scale == grid.best_params_["noise_scale"]
    # The refit model equals a fit in this process with the best parameters.
    local = fast(max_epochs=15, **grid.best_params_).fit(X, y)
    np.testing.assert_array_equal(grid.predict_proba(X), local.predict_proba(X))


def test_cross_val_score(iris):
    X, y = iris
    scores = cross_val_score(fast(noise_scale=0.2), X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85


def test_unfitted_estimator_pickles():
    clf = fast(noise_scale=0.3)
    assert pickle.loads(pickle.dumps(clf)).get_params() == clf.get_params()


NON_DEFAULT = dict(
    preprocessing=None,
    numeric_scaling="quantile",
    max_onehot=3,
    numeric_embedding="periodic",
    n_threads=1,
    precision="bfloat16",
    hidden_layer_sizes=(12, 6),
    activation="tanh",
    noise="laplace",
    noise_scale=0.3,
    noise_placement=("input", "pre_activation"),
    dropout=0.1,
    batch_norm="after",
    max_norm=3.0,
    inference_dropout=True,
    inference_noise="gaussian",
    inference_noise_scale=0.05,
    n_inference_samples=4,
    inference_memory_mb=1.0,
    noise_schedule="cosine",
    noise_schedule_end=0.1,
    noise_schedule_epochs=3,
    activation_mixing=1.2,
    activation_noise_constant=0.3,
    optimizer="sgd",
    lr=0.05,
    weight_decay=1e-3,
    momentum=0.8,
    beta2=0.95,
    lr_schedule="cosine",
    label_smoothing=0.1,
    batch_size=32,
    max_epochs=4,
    early_stopping=False,
    validation_fraction=0.2,
    n_iter_no_change=3,
    tol=1e-3,
    class_weight={0: 2.0},
    decision="argmax",
    calibration="temperature",
    n_members=2,
    device="auto",
    random_state=3,
    verbose=1,
    callbacks=[("step_lr", LRScheduler(policy="StepLR", step_size=2))],
    on_divergence="warn",
)


def test_get_set_params_round_trip_for_every_parameter(iris, capsys):
    default = NoisyMLPClassifier()
    assert set(NON_DEFAULT) == set(default.get_params()), "keep NON_DEFAULT in step with the parameters"
    for name, value in NON_DEFAULT.items():
        assert default.get_params()[name] != value or name == "callbacks", name
        clf = NoisyMLPClassifier().set_params(**{name: value})
        assert clf.get_params()[name] is value, name
        assert NoisyMLPClassifier(**{name: value}).get_params()[name] is value, name
    # All of them together form a valid model.
    X, y = iris
    clf = NoisyMLPClassifier(**NON_DEFAULT).fit(X, y)
    assert clf.n_iter_ == 4
    assert "train_loss" in capsys.readouterr().out  # verbose=1 prints skorch's table
    proba, std = clf.predict_proba(X, return_std=True)
    assert proba.shape == (150, 3) and (std > 0).any()
    assert clf.net_.optimizer_.param_groups[0]["lr"] < 0.05  # StepLR decayed it
    assert clf.history_[-1, "noise_scale"] == pytest.approx(0.3 * 0.1)  # the cosine schedule ended at 0.1
