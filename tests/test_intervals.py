"""Regression uncertainty that means what it says: a predictive std that includes the data's
noise, and split-conformal prediction intervals (issue 21, item 1)."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from sknoise import NINRRegressor, NoisyMLPRegressor

from ._common import REGRESSORS, each


def heteroscedastic(n, seed=0):
    """y = sin(3 x0) + x1 + noise whose scale grows tenfold across x0."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    scale = 0.05 + 0.5 * (X[:, 0] + 1) / 2
    return X, np.sin(3 * X[:, 0]) + X[:, 1] + scale * rng.normal(size=n), scale


FAST = dict(hidden_layer_sizes=(32, 32), max_epochs=60, lr=3e-3, random_state=0)


@each(REGRESSORS)
def test_the_95_percent_interval_covers_about_95_percent_of_new_targets(cls):
    X, y, _ = heteroscedastic(3000)
    X_test, y_test, _ = heteroscedastic(3000, seed=1)
    model = cls(**FAST).fit(X, y)
    lower, upper = model.predict_interval(X_test, alpha=0.05)
    coverage = np.mean((y_test >= lower) & (y_test <= upper))
    assert 0.91 <= coverage <= 0.99, coverage
    lower90, upper90 = model.predict_interval(X_test, alpha=0.1)
    assert np.all(upper90 - lower90 <= upper - lower)


@each(REGRESSORS)
def test_the_std_includes_the_data_noise(cls):
    """A deterministic network's std used to be 0: mean ± 1.96 std covered nothing."""
    X, y, _ = heteroscedastic(3000)
    X_test, y_test, _ = heteroscedastic(3000, seed=1)
    mean, std = cls(**FAST).fit(X, y).predict(X_test, return_std=True)
    assert (std > 0).all()
    assert 0.9 <= np.mean(np.abs(y_test - mean) <= 1.96 * std) <= 0.99


def test_the_gaussian_head_ranks_the_errors_and_narrows_the_easy_rows():
    X, y, scale = heteroscedastic(4000)
    X_test, y_test, scale_test = heteroscedastic(3000, seed=1)
    model = NoisyMLPRegressor(loss="gaussian_nll", **FAST).fit(X, y)
    mean, std = model.predict(X_test, return_std=True)
    assert spearmanr(std, scale_test).statistic > 0.8  # the std follows the true noise scale
    assert spearmanr(std, np.abs(y_test - mean)).statistic > 0.3
    lower, upper = model.predict_interval(X_test)
    width = upper - lower
    easy, hard = scale_test < 0.15, scale_test > 0.45
    assert width[easy].mean() < 0.5 * width[hard].mean()
    assert 0.91 <= np.mean((y_test >= lower) & (y_test <= upper)) <= 0.99


def test_intervals_need_rows_the_network_did_not_train_on():
    X, y, _ = heteroscedastic(600)
    model = NoisyMLPRegressor(**{**FAST, "early_stopping": False, "max_epochs": 5}).fit(X, y)
    assert model.interval_calibration_ == "training"
    with pytest.raises(ValueError, match="conformalize"):
        model.predict_interval(X)
    X_cal, y_cal, _ = heteroscedastic(300, seed=2)
    lower, upper = model.conformalize(X_cal, y_cal).predict_interval(X)
    assert model.interval_calibration_ == "user" and (upper > lower).all()
    with pytest.raises(ValueError, match="alpha"):
        model.predict_interval(X, alpha=1.5)


def test_partial_fit_calibrates_on_its_rows_and_asks_for_held_out_ones():
    X, y, _ = heteroscedastic(400)
    model = NINRRegressor(hidden_layer_sizes=(16,), random_state=0).partial_fit(X, y)
    assert model.interval_calibration_ == "training"
    mean, std = model.predict(X[:5], return_std=True)
    assert (std > 0).all()


def test_too_few_calibration_rows_give_an_infinite_interval_not_a_false_one():
    X, y, _ = heteroscedastic(400)
    model = NoisyMLPRegressor(**{**FAST, "max_epochs": 5}).fit(X, y).conformalize(X[:5], y[:5])
    lower, upper = model.predict_interval(X[:3], alpha=0.05)  # 5 rows cannot promise 95%
    assert np.isinf(lower).all() and np.isinf(upper).all()


def test_several_targets_get_their_own_intervals():
    X, y, _ = heteroscedastic(1500)
    Y = np.column_stack([y, 100 * y])
    model = NoisyMLPRegressor(**FAST).fit(X, Y)
    lower, upper = model.predict_interval(X[:10])
    mean, std = model.predict(X[:10], return_std=True)
    assert lower.shape == upper.shape == mean.shape == std.shape == (10, 2)
    np.testing.assert_allclose((upper - lower)[:, 1] / (upper - lower)[:, 0], 100, rtol=0.3)


def test_the_docstring_says_what_the_std_is():
    doc = NoisyMLPRegressor.predict.__doc__
    assert "bench_regression" not in doc and "data's own noise" in doc
