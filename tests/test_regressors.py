"""NoisyMLPRegressor and NINRRegressor: targets, losses, Monte-Carlo spread, the shared machinery."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknoise import NINRRegressor, NoisyEBMClassifier, NoisyMLPRegressor

REGRESSORS = [NoisyMLPRegressor, NINRRegressor]
by_name = pytest.mark.parametrize("cls", REGRESSORS, ids=lambda cls: cls.__name__)
# noise="gaussian": noise="auto" (the MLP's default) leaves small tables without noise.
FAST = dict(hidden_layer_sizes=(32,), max_epochs=60, lr=0.01, early_stopping=False, random_state=0, noise="gaussian")


def fast(cls, **params):
    return cls(**{**FAST, **params})


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=400, n_features=6, n_informative=4, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), y


@by_name
def test_learns_and_predicts_in_the_users_units(cls, regression):
    X, y = regression
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    reg = fast(cls).fit(X_tr, y_tr)
    assert r2_score(y_te, reg.predict(X_te)) > 0.8
    # The targets are standardized inside: a change of units changes nothing else.
    big = fast(cls).fit(X_tr, 1000 * y_tr + 5e4)
    np.testing.assert_allclose(big.predict(X_te), 1000 * reg.predict(X_te) + 5e4, rtol=1e-4, atol=1.0)
    assert big.target_mean_[0] == pytest.approx(1000 * y_tr.mean() + 5e4)
    assert reg.score(X_te, y_te) == pytest.approx(r2_score(y_te, reg.predict(X_te)))


@by_name
def test_multi_output_targets(cls, regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y + 3])
    reg = fast(cls).fit(X, Y)
    assert reg.n_outputs_ == 2
    pred, std = reg.set_params(inference_noise="same", noise_scale=0.2).predict(X[:5], return_std=True)
    assert pred.shape == std.shape == (5, 2)
    assert r2_score(Y, reg.set_params(inference_noise=None).predict(X)) > 0.8
    # A single column stays 2-D, a 1-D target 1-D.
    assert fast(cls).fit(X, y[:, None]).predict(X[:3]).shape == (3, 1)
    assert fast(cls).fit(X, y).predict(X[:3]).shape == (3,)


@by_name
def test_return_std_is_the_data_noise_plus_the_spread_of_the_noisy_passes(cls, regression):
    X, y = regression
    reg = fast(cls, noise_scale=0.3).fit(X, y)
    mean, std = reg.predict(X, return_std=True)
    # A deterministic network: one noise level for every row, from the held-out residuals.
    assert np.all(std > 0) and np.ptp(std) == 0
    np.testing.assert_allclose(std[0], reg.std_scale_[0] * np.sqrt(reg.noise_floor_[0]))
    reg.set_params(inference_noise="same", n_inference_samples=64)
    mc_mean, mc_std = reg.predict(X, return_std=True)
    assert np.all(mc_std > std) and np.ptp(mc_std) > 0  # the passes' spread adds to it, row by row
    # In the units of y: a larger inference noise spreads the passes more.
    reg.set_params(inference_noise_scale=0.9)
    assert reg.predict(X, return_std=True)[1].mean() > mc_std.mean()
    # A row's prediction is a function of that row alone (common random numbers).
    np.testing.assert_allclose(reg.set_params(inference_noise_scale=None).predict(X[[7]]), mc_mean[[7]], rtol=1e-5)


def test_huber_loss_resists_outliers_in_the_target(regression):
    X, y = regression
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    rng = np.random.default_rng(0)
    y_bad = y_tr.copy()
    hit = rng.random(len(y_bad)) < 0.08
    y_bad[hit] += rng.choice([-1, 1], hit.sum()) * 40 * y_tr.std()
    squared = fast(NoisyMLPRegressor).fit(X_tr, y_bad)
    huber = fast(NoisyMLPRegressor, loss="huber", huber_delta=0.1).fit(X_tr, y_bad)
    assert huber.score(X_te, y_te) > squared.score(X_te, y_te) + 0.05


@by_name
def test_early_stopping_partial_fit_and_pickle(cls, regression):
    X, y = regression
    reg = cls((16,), max_epochs=150, n_iter_no_change=5, random_state=0).fit(X, y)
    assert reg.best_epoch_ == int(np.argmin(reg.validation_loss_curve_)) + 1
    assert -1 <= reg.best_validation_score_ <= 1
    epochs = reg.n_iter_
    reg.partial_fit(X, y)
    assert reg.n_iter_ == epochs + 1
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    stream = cls((16,), random_state=0)
    for start in range(0, 400, 100):
        stream.partial_fit(X[start : start + 100], y[start : start + 100])
    assert stream.n_iter_ == 4


@by_name
def test_in_pipelines_searches_and_cross_validation(cls):
    X, y = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), fast(cls, max_epochs=20))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.mean() > 0.2
    grid = GridSearchCV(model, {f"{cls.__name__.lower()}__noise_scale": [0.1, 0.5]}, cv=2).fit(X, y)
    assert grid.best_score_ > 0.2
    assert clone(model[-1]).get_params() == model[-1].get_params()


@by_name
def test_search_spaces_exist_for_regressors(cls):
    space = cls.search_space()
    assert {"noise", "noise_scale", "lr"} <= set(space)
    assert set(space) <= set(cls().get_params())


@by_name
def test_bad_targets_and_parameters_are_named(cls, regression):
    X, y = regression
    with pytest.raises(ValueError, match="loss"):
        fast(cls, loss="absolute").fit(X, y)
    with pytest.raises(ValueError, match="huber_delta"):
        fast(cls, huber_delta=0.0).fit(X, y)
    with pytest.raises(ValueError):
        fast(cls).fit(X, np.array(["a"] * len(X)))
    reg = fast(cls).fit(X, y)
    with pytest.raises(ValueError, match="targets"):
        reg.partial_fit(X, np.column_stack([y, y]))


@by_name
def test_a_collapsed_regressor_warns(cls, regression):
    X, y = regression
    with pytest.warns(ConvergenceWarning, match="mean target"):
        fast(cls, max_epochs=2, lr=1e-5, numeric_embedding=None).fit(1e4 * X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fast(cls).fit(X, y)


def test_ninr_regressor_records_the_noise_injection_weights(regression):
    X, y = regression
    reg = fast(NINRRegressor, noise_scale=1.0, optimizer="sgd", lr=0.01).fit(X, y)
    assert len(reg.niw_norm_curve_) == reg.n_iter_
    assert reg.phase_ in ("decoupled", "decay", "catapult", "divergent")


def test_the_ebm_stays_a_classifier_and_says_so():
    assert "no regressor" in NoisyEBMClassifier.__doc__
