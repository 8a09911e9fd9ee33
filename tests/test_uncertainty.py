"""Ensemble members in one module, temperature calibration, and the uncertainty metrics."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sknoise import NoisyEBMClassifier, NoisyMLPClassifier
from sknoise.metrics import (
    area_under_risk_coverage,
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    plot_reliability_diagram,
    plot_risk_coverage,
    risk_coverage_curve,
)
from sknoise.nn import BatchedLinear

from ._common import CLASSIFIERS as _CLASSIFIERS
from ._common import ESTIMATORS, each

estimators = each(ESTIMATORS)
CLASSIFIERS = each(_CLASSIFIERS)


def data(cls, n=600):
    if "Regressor" in cls.__name__:
        X, y = make_regression(n, 8, noise=10.0, random_state=0)
    else:
        X, y = make_classification(n, 8, n_informative=4, flip_y=0.1, random_state=0)
    return StandardScaler().fit_transform(X), y


def member_weights(model):
    return [m.weight for m in model.net_.module_.modules() if isinstance(m, BatchedLinear)]


@estimators
def test_members_are_independent_and_reproducible(cls):
    X, y = data(cls)
    params = dict(hidden_layer_sizes=(16,), max_epochs=5, early_stopping=False, n_members=4, random_state=0)
    model = cls(**params).fit(X, y)
    first = member_weights(model)[0]
    n_members = 4
    per_member = first.reshape(n_members, -1, *first.shape[1:]) if cls is NoisyEBMClassifier else first
    assert len(per_member) == n_members
    assert not torch.equal(per_member[0], per_member[1])  # their own initialization
    again = cls(**params).fit(X, y)
    out = model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)
    out_again = again.predict_proba(X) if hasattr(again, "predict_proba") else again.predict(X)
    np.testing.assert_array_equal(out, out_again)
    # The spread across members is the uncertainty, even without inference noise.
    std = (model.predict_proba(X, return_std=True) if hasattr(model, "predict_proba")
           else model.predict(X, return_std=True))[1]
    assert (std > 0).any()


def test_the_prediction_is_the_members_average():
    X, y = data(NoisyMLPClassifier)
    model = NoisyMLPClassifier((16,), max_epochs=5, early_stopping=False, n_members=3, noise="none",
                               preprocessing=None, random_state=0).fit(X, y)
    with torch.no_grad():
        logits = model.net_.module_.eval()(torch.as_tensor(X[:10], dtype=torch.float32))  # (N, members, K)
    assert logits.shape == (10, 3, 2)
    expected = torch.softmax(logits.double(), dim=-1).mean(dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(X[:10]), expected, rtol=1e-5, atol=1e-6)
    # skorch's own predict_proba averages the members too.
    np.testing.assert_allclose(model.net_.predict_proba(X[:10]), expected, rtol=1e-5, atol=1e-6)


@CLASSIFIERS
def test_temperature_calibration_lowers_the_validation_log_loss(cls):
    X, y = make_classification(2000, 10, n_informative=4, flip_y=0.2, random_state=0)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.3, random_state=0)
    model = cls(hidden_layer_sizes=(64,), max_epochs=80, early_stopping=False, calibration=None,
                random_state=0).fit(X_tr, y_tr)
    raw = log_loss(y_va, model.predict_proba(X_va))
    calibrated = log_loss(y_va, model.calibrate(X_va, y_va).predict_proba(X_va))
    assert model.temperature_ != 1.0
    assert calibrated < raw
    # fit calibrates on its held-out rows when asked to (600 of them: more than a small
    # sample, on which a temperature of 1 stays unless the rows clearly ask otherwise).
    X2, y2 = make_classification(3000, 10, n_informative=4, flip_y=0.2, random_state=1)
    fitted = cls(hidden_layer_sizes=(64,), max_epochs=80, calibration="temperature", validation_fraction=0.2,
                 random_state=0).fit(X2, y2)
    assert fitted.temperature_ != 1.0
    # The temperature does not change the predicted classes.
    np.testing.assert_array_equal(model.set_params(calibration=None).predict(X_va), model.predict(X_va))


def test_calibration_off_means_temperature_one():
    X, y = data(NoisyMLPClassifier)
    assert NoisyMLPClassifier((8,), max_epochs=2, random_state=0).fit(X, y).temperature_ == 1.0


def test_monte_carlo_dropout_keeps_the_dropout_layers_on_at_inference(iris):
    X, y = iris
    model = NoisyMLPClassifier((32,), dropout=0.3, noise="none", max_epochs=20, random_state=0).fit(X, y)
    _, std = model.predict_proba(X, return_std=True)
    assert np.all(std == 0)
    model.set_params(inference_dropout=True, n_inference_samples=16)
    proba, std = model.predict_proba(X, return_std=True)
    assert (std > 0).any()
    # Seeded and row-independent like every Monte-Carlo prediction.
    np.testing.assert_allclose(model.predict_proba(X[[3]])[0], proba[3], rtol=1e-5)


# ----------------------------------------------------------------------------- metrics
def test_metrics_match_hand_computed_values():
    y = np.array(["a", "b", "b", "a"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    # Top-label ECE: one row per bin; |1-.9|, |1-.8|, |1-.6|, |0-.7| averaged.
    assert expected_calibration_error(y, proba) == pytest.approx((0.1 + 0.2 + 0.4 + 0.7) / 4)
    # One bin for everything: |accuracy 3/4 - mean confidence 0.75| = 0.
    assert expected_calibration_error(y, proba, n_bins=1) == pytest.approx(0.0)
    assert brier_score(y, proba) == pytest.approx(np.mean([0.02, 0.08, 0.32, 0.98]))
    assert brier_score(y, proba) == pytest.approx(2 * brier_score_loss(y == "b", proba[:, 1]))
    assert negative_log_likelihood(y, proba) == pytest.approx(log_loss(y, proba))
    coverage, risk = risk_coverage_curve(y, proba)
    # Confidence order: 0.9 (right), 0.8 (right), 0.7 (wrong), 0.6 (right).
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0, 0, 1 / 3, 1 / 4])
    assert area_under_risk_coverage(y, proba) == pytest.approx((1 / 3 + 1 / 4) / 4)
    # A confidence that ranks the error last is better.
    assert area_under_risk_coverage(y, proba, confidence=[4, 3, 2, 1]) < area_under_risk_coverage(y, proba)


def test_metrics_refuse_mismatched_inputs_and_work_with_any_classifier():
    with pytest.raises(ValueError, match="columns"):
        expected_calibration_error([0, 1, 2], np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="shape"):
        brier_score([0, 1], np.full((3, 2), 0.5))
    X, y = make_classification(300, 5, random_state=0)
    proba = LogisticRegression().fit(X, y).predict_proba(X)
    assert 0 <= expected_calibration_error(y, proba) < 0.1
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_reliability_diagram(y, proba, label="logreg")
    plot_risk_coverage(y, proba, label="logreg")
    assert "ECE" in ax.get_legend().get_texts()[0].get_text()


def test_a_small_calibration_sample_keeps_the_prior_temperature_unless_it_clearly_disagrees():
    from scipy.special import log_softmax

    from sknoise._runtime._calibration import SMALL_SAMPLE, fit_temperature

    rng = np.random.default_rng(0)

    def sample(n, overconfidence):
        logits = rng.normal(0, 2, (n, 3))
        y = np.array([rng.choice(3, p=p) for p in np.exp(log_softmax(logits, axis=1))])
        return logits * overconfidence, y

    def fit(logits, y, prior):
        return fit_temperature(lambda t: log_softmax(logits / t, axis=1), y, float(np.std(logits)), prior=prior)

    calibrated, y = sample(SMALL_SAMPLE // 3, 1.0)
    assert fit(calibrated, y, prior=1.0) == 1.0  # no reason to move: it stays
    assert fit(calibrated, y, prior=None) > 1.0  # the old rule: the largest within the noise band
    overconfident, y = sample(SMALL_SAMPLE // 3, 4.0)
    assert 2.0 < fit(overconfident, y, prior=1.0) < 8.0  # a clear signal still moves it
    many, y = sample(4 * SMALL_SAMPLE, 4.0)
    assert fit(many, y, prior=1.0) == pytest.approx(4.0, rel=0.25)
