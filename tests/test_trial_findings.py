"""What a user trial and a reliability probe found (issue 10), one test per finding.

Each test failed on the code before its fix. Names follow the issue's items: W (wrong or
surprising results), H (scikit-learn habits) and R (reliability findings).
"""

import io
import pickle
import re
import threading
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss
from sklearn.model_selection import cross_val_predict, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EpochScoring

import sknoise
from sknoise import (
    NINRClassifier,
    NoisyEBMClassifier,
    NoisyMLPClassifier,
    TrainingDivergedError,
    TrainingDivergedWarning,
)

from ._common import CLASSIFIERS as ESTIMATORS
from ._common import each

by_name = each(ESTIMATORS)
# noise="gaussian": noise="auto" (the MLP's default) leaves small tables without noise.
FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, early_stopping=False, random_state=0, noise="gaussian")


def fast(cls, **params):
    return cls(**{**FAST, **params})


def standard_normal_noise(shape, generator=None, device=None, dtype=None):
    """A module-level noise callable (picklable by reference)."""
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


class CountTrainingRows(Callback):
    """Count the rows of every training batch."""

    def on_train_begin(self, net, **kwargs):
        self.rows = 0

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.rows += len(batch[0])


class FailAtEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("a callback failed")


# ============================================================================ W: wrong results
@by_name
@pytest.mark.parametrize("noise", [torch.distributions.Normal(0.0, 1.0), standard_normal_noise],
                         ids=["torch_distribution", "function"])
def test_W1_a_fitted_model_with_custom_noise_pickles(cls, iris, noise):
    X, y = iris
    clf = fast(cls, noise=noise, noise_scale=0.2, inference_noise="same", n_inference_samples=4).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_W1_cross_validate_with_workers_returns_custom_noise_estimators(iris):
    X, y = iris
    clf = fast(NoisyMLPClassifier, noise=torch.distributions.Laplace(0.0, 1.0), noise_scale=0.1)
    result = cross_validate(clf, X, y, cv=2, n_jobs=2, return_estimator=True)
    assert len(result["estimator"]) == 2


@by_name
def test_W2_values_outside_float32_are_refused_naming_the_column(cls, iris):
    X, y = iris
    # Without preprocessing the network gets the values as they are: refused, naming the column.
    clf = fast(cls, preprocessing=None).fit(X, y)
    X_big = X[:3].copy()
    X_big[1, 0] = 1e39
    with pytest.raises(ValueError, match=r"float32.*column 0"):
        clf.predict_proba(X_big)
    X_fit = X.copy()
    X_fit[4, 2] = -1e39
    with pytest.raises(ValueError, match=r"float32.*column 2"):
        fast(cls, preprocessing=None).fit(X_fit, y)
    frame = pd.DataFrame(X_fit, columns=["a", "b", "width", "d"])
    with pytest.raises(ValueError, match=r"float32.*'width'"):
        fast(cls, preprocessing=None).fit(frame, y)
    # The built-in preprocessing computes in float64 and clips softly: such values are tamed.
    tamed = fast(cls).fit(X_fit, y)
    assert np.isfinite(tamed.predict_proba(X_big)).all()


@by_name
def test_W3_inference_noise_same_is_the_noise_the_model_was_trained_with(cls, iris):
    X, y = iris
    clf = fast(cls, noise_scale=0.3, inference_noise="same", n_inference_samples=16).fit(X, y)
    proba = clf.predict_proba(X)
    clf.set_params(noise_scale=2.0, noise="uniform")
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    # The documented inference parameters still act without a refit.
    clf.set_params(inference_noise_scale=0.6)
    assert not np.array_equal(clf.predict_proba(X), proba)


@by_name
def test_W4_a_rows_monte_carlo_prediction_depends_on_that_row_only(cls, iris):
    X, y = iris
    clf = fast(cls, noise_scale=0.5, inference_noise="same", n_inference_samples=16).fit(X, y)
    proba = clf.predict_proba(X)
    for i in (0, 57, 149):
        np.testing.assert_allclose(clf.predict_proba(X[[i]])[0], proba[i], rtol=1e-5, atol=1e-6)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(clf.predict_proba(X[order]), proba[order], rtol=1e-5, atol=1e-6)
    copies = np.repeat(X[[70]], 8, axis=0)
    assert len(set(clf.predict(copies))) == 1
    # A small memory budget (other chunks) changes nothing either.
    clf.set_params(inference_memory_mb=0.01)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-5, atol=1e-6)


def imbalanced(n=1500, seed=0):
    X, y = make_classification(n, n_features=6, n_informative=3, weights=[0.85], flip_y=0.1,
                               class_sep=0.5, random_state=seed)
    return StandardScaler().fit_transform(X), y


def test_W5_ebm_probabilities_carry_the_class_prior():
    X, y = imbalanced()
    train, test = slice(0, 1000), slice(1000, None)
    ebm = NoisyEBMClassifier(random_state=0).fit(X[train], y[train])
    shares = np.bincount(y[train]) / len(y[train])
    np.testing.assert_allclose(ebm.class_prior_, shares)
    prior_loss = log_loss(y[test], np.tile(shares, (len(y[test]), 1)))
    assert log_loss(y[test], ebm.predict_proba(X[test])) < prior_loss


def test_W6_a_schedule_reaches_its_end_where_training_ends(iris):
    X, y = iris
    clf = NoisyMLPClassifier((8,), noise_schedule="linear", early_stopping=True, n_iter_no_change=3,
                             max_epochs=200, noise_schedule_epochs=12, random_state=0).fit(X, y)
    factors = clf.history_[:, "noise_scale_factor"]
    assert factors[11] == 0.0 and factors[0] == 1.0
    assert clf.n_iter_ >= 12  # early stopping waited for the schedule's end


def test_W6_a_schedule_leaves_the_dropout_rate_alone(iris):
    X, y = iris
    clf = NoisyMLPClassifier((8,), dropout=0.5, noise_schedule="linear", max_epochs=2,
                             early_stopping=False, random_state=0).fit(X, y)
    module = clf.net_.module_.train()
    clf.net_.module_.set_schedule_factor(0.0)  # the schedule's last value
    h = torch.ones(1000, 8)
    dropout = [m for m in module.modules() if isinstance(m, sknoise.NoiseLayer)
               and m.train_noise.distribution.name == "dropout"][0]
    assert 0.4 < float((dropout(h) == 0).float().mean()) < 0.6


@by_name
def test_W7_partial_fit_trains_on_every_row(cls, iris):
    X, y = iris
    counter = CountTrainingRows()
    clf = cls(hidden_layer_sizes=(8,), early_stopping=True, callbacks=[counter], random_state=0)
    clf.partial_fit(X, y)
    assert counter.rows == len(X)


@by_name
def test_W8_skorch_scoring_callbacks_compute_the_right_values(cls, iris):
    X, y = iris
    # The EBM's training passes hold each row's own-class energy only: its train score
    # is computed afresh (use_caching=False), as its docstring says.
    caching = cls is not NoisyEBMClassifier
    callbacks = [EpochScoring("accuracy", lower_is_better=False, name="valid_acc"),
                 EpochScoring("roc_auc_ovr", lower_is_better=False, name="valid_auc"),
                 EpochScoring("neg_log_loss", on_train=True, lower_is_better=False, name="train_nll",
                              use_caching=caching)]
    clf = cls(hidden_layer_sizes=(8,), max_epochs=5, early_stopping=True, n_iter_no_change=50,
              noise="none", callbacks=callbacks, random_state=0).fit(X, y)
    last = clf.history_[-1]
    assert 0.3 < last["valid_acc"] <= 1 and 0.3 < last["valid_auc"] <= 1
    # The train score is that of the probabilities, on the rows trained on, of the final model.
    assert last["train_nll"] < 0
    # The net takes what the estimator's preprocessing makes of X.
    proba = clf.net_.predict_proba(clf.preprocessor_.transform(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-5, atol=1e-6)


@by_name
def test_W9_default_search_spaces_vary_only_parameters_that_act(cls):
    for kind in ("optuna", "grid"):
        space = cls.search_space(kind)
        noise_choices = space.get("noise")
        choices = getattr(noise_choices, "choices", noise_choices) or ()
        assert "cauchy" not in choices
        inference_values = space.get("inference_noise")
        inference_values = getattr(inference_values, "choices", inference_values)
        if inference_values is None:
            inference_values = [cls().inference_noise]
        for dependent in ("n_inference_samples", "inference_noise_scale", "energy_aggregate"):
            if dependent in space:
                assert all(v not in (None, "none") for v in inference_values), (kind, dependent)


def frame_and_labels():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :4].copy()
    X["size"] = pd.Categorical(np.where(X.iloc[:, 0] > X.iloc[:, 0].median(), "big", "small"))
    return X, y


def test_W10_corrupt_works_on_dataframes_in_column_std_units():
    X, _ = frame_and_labels()
    bad = sknoise.corrupt(X, "gaussian", 0.5, random_state=0)
    assert isinstance(bad, pd.DataFrame) and list(bad.columns) == list(X.columns)
    pd.testing.assert_series_equal(bad["size"], X["size"])
    numeric = X.columns[:4]
    ratio = (bad[numeric] - X[numeric]).std() / X[numeric].std()
    np.testing.assert_allclose(ratio, 0.5, rtol=0.15)


def test_W10_robustness_curve_on_the_readmes_pipeline_and_one_panel_per_kind():
    X, y = frame_and_labels()
    numeric, categorical = list(X.columns[:4]), ["size"]
    model = make_pipeline(
        make_column_transformer((StandardScaler(), numeric), (OneHotEncoder(handle_unknown="ignore"), categorical)),
        NoisyMLPClassifier((8,), max_epochs=5, early_stopping=False, random_state=0),
    ).fit(X, y)
    curve = sknoise.robustness_curve(model, X, y, kinds=["gaussian", "shift"], severities=[0, 1], random_state=0)
    assert set(curve["kind"]) == {"gaussian", "shift"}
    axes = sknoise.plot_robustness(curve)
    assert len(np.ravel(axes)) == 2


def test_W11_a_fit_that_collapses_to_a_constant_predictor_warns():
    X, y = load_breast_cancer(return_X_y=True)  # unscaled: the README's NINR snippet collapsed on it
    snippet = dict(nin_placement="input", noise_scale=1.0, optimizer="sgd", lr=0.1, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"class frequencies.*(scale|standardiz)"):
        NINRClassifier(**snippet, preprocessing=None).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        NINRClassifier((16,), max_epochs=20, random_state=0).fit(StandardScaler().fit_transform(X), y)
        # The built-in preprocessing scales the inputs: the snippet learns.
        assert NINRClassifier(**snippet).fit(X, y).score(X, y) > 0.9


def test_W11_one_predicted_class_with_informative_probabilities_is_no_collapse():
    """A 93/7 table whose minority never wins the argmax, while the probabilities carry information."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))
    y = (rng.random(3000) < 1 / (1 + np.exp(-(1.2 * X[:, 0] - 3.2)))).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = NoisyMLPClassifier((16,), max_epochs=40, random_state=0, decision="argmax").fit(X, y)
    assert len(np.unique(clf.predict(X))) == 1  # the case this test is about
    assert np.corrcoef(clf.predict_proba(X)[:, 1], X[:, 0])[0, 1] > 0.6
    # The default decision ('balanced') predicts the minority where it is relatively likely.
    assert len(np.unique(clf.set_params(decision="balanced").predict(X))) == 2


# ============================================================================ H: sklearn habits
@by_name
def test_H1_predict_log_proba(cls, iris):
    X, y = iris
    clf = fast(cls)
    out = cross_val_predict(clf, X, y, cv=2, method="predict_log_proba")
    assert out.shape == (len(X), 3) and np.all(out <= 0)
    clf.fit(X, y)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-6)


@by_name
@pytest.mark.parametrize("attribute", ["loss_curve_", "n_iter_", "history_", "validation_loss_curve_", "best_loss_"])
def test_H2_unfitted_attributes_raise_not_fitted(cls, attribute):
    with pytest.raises(NotFittedError):
        getattr(cls(), attribute)


@by_name
def test_H3_best_epoch_and_scores_are_exposed(cls, iris):
    X, y = iris
    clf = cls(hidden_layer_sizes=(8,), max_epochs=30, n_iter_no_change=3, random_state=0).fit(X, y)
    valid = clf.validation_loss_curve_
    assert clf.best_epoch_ == int(np.argmin(valid)) + 1
    assert clf.best_validation_loss_ == pytest.approx(min(valid))
    assert 0 <= clf.best_validation_score_ <= 1
    assert clf.best_loss_ is None
    plain = fast(cls).fit(X, y)
    assert plain.best_loss_ == pytest.approx(min(plain.loss_curve_))
    assert plain.best_validation_score_ is None and plain.best_epoch_ == plain.n_iter_


SHARED_DEFAULTS = ["optimizer", "weight_decay", "batch_size", "max_epochs", "early_stopping",
                   "validation_fraction", "n_iter_no_change", "tol", "lr", "activation"]


def test_H4_defaults_agree_across_estimators_or_the_docstring_says_why():
    defaults = {cls: cls().get_params() for cls in ESTIMATORS}
    for name in SHARED_DEFAULTS:
        values = {cls: d[name] for cls, d in defaults.items()}
        majority = max(values.values(), key=list(values.values()).count)
        for cls, value in values.items():
            if value != majority:
                section = docstring_parameters(cls.__doc__)[name]
                assert "because" in section, (cls.__name__, name, section)


def docstring_parameters(doc: str) -> dict[str, str]:
    section = doc.split("Parameters\n    ----------\n", 1)[1].split("\n    Attributes\n", 1)[0]
    out, current = {}, None
    for line in section.splitlines():
        m = re.match(r"^    (\w+) :", line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif current and line.startswith("        "):
            out[current] += line.strip() + " "
    return out


@by_name
def test_H5_every_parameter_is_described_and_the_papers_are_cited(cls):
    described = docstring_parameters(cls.__doc__)
    for name in cls().get_params():
        assert described.get(name, "").strip(), f"{cls.__name__}.{name} has no description"
    assert "References" in cls.__doc__
    assert "poster; see" not in cls.__doc__ and "methods.md" not in cls.__doc__


def test_H5_error_messages_cite_readme_sections_that_exist():
    readme = open("README.md").read()
    source = "".join(p.read_text() for p in Path("sknoise").rglob("*.py"))
    for section in re.findall(r"README, '([^']+)'", source):
        assert section in readme, section


@by_name
def test_H7_verbose_prints_a_plain_rounded_table(cls, iris):
    X, y = iris
    out = io.StringIO()
    with redirect_stdout(out):
        fast(cls, verbose=1, early_stopping=True).fit(X, y)
    text = out.getvalue()
    assert "\x1b[" not in text
    assert not re.search(r"\d\.\d{6,}", text), text


# ============================================================================ R: reliability
@by_name
def test_R1_a_failed_refit_leaves_an_unfitted_estimator(cls, iris):
    X, y = iris
    clf = fast(cls).fit(X, y)
    with pytest.raises(ValueError, match="only 1 class"):
        clf.fit(X[:20], np.full(20, "setosa"))
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert not hasattr(clf, "classes_") and not hasattr(clf, "n_features_in_")
    clf = fast(cls).fit(X, y)
    with pytest.raises(RuntimeError, match="a callback failed"):
        clf.set_params(callbacks=[FailAtEpoch(2)]).fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_R1_a_one_row_batch_under_batch_norm_is_a_clear_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="batch_size"):
        fast(NoisyMLPClassifier, batch_norm="before", batch_size=1).fit(X, y)


@by_name
def test_R2_a_failed_partial_fit_keeps_the_model_it_had(cls, iris):
    X, y = iris
    clf = fast(cls, noise_scale=0.1).fit(X, y)
    proba, epochs = clf.predict_proba(X), clf.n_iter_
    clf.set_params(noise="cauchy", noise_scale=1e30, lr=1.0)
    with pytest.raises(TrainingDivergedError):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert clf.n_iter_ == epochs
    # on_divergence set after the first fit is honoured.
    clf.set_params(on_divergence="warn")
    with pytest.warns(TrainingDivergedWarning):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


@by_name
def test_R3_huge_finite_rows_do_not_freeze_training_silently(cls, iris):
    X, y = iris
    X_huge = X.copy()
    X_huge[:3] = 1e30
    with pytest.raises(TrainingDivergedError, match=r"(largest|magnitude).*1e\+30"):
        fast(cls, max_epochs=5, preprocessing=None).fit(X_huge, y)
    clf = fast(cls, max_epochs=5, on_divergence="warn", preprocessing=None)
    with pytest.warns(TrainingDivergedWarning):
        clf.fit(X_huge, y)
    # The optimizer state was restored with the weights: training on clean rows moves them again.
    before = {k: v.detach().clone() for k, v in clf.net_.module_.named_parameters()}
    clf.partial_fit(X, y)
    after = dict(clf.net_.module_.named_parameters())
    moved = sum(int(not torch.equal(before[k], after[k])) for k in before)
    assert moved == len(before)
    assert all(torch.isfinite(v).all() for v in after.values())


def test_R4_ebm_overflowing_energies_are_an_error_not_nan(iris):
    X, y = iris
    ebm = fast(NoisyEBMClassifier, preprocessing=None).fit(X, y)
    X_big = X[:4] * 1e20
    with pytest.raises(ValueError, match="non-finite"):
        ebm.predict_proba(X_big)
    temperature = ebm.temperature_
    with pytest.raises(ValueError, match="non-finite"):
        ebm.calibrate(np.vstack([X, X_big]), np.r_[y, y[:4]])
    assert ebm.temperature_ == temperature


@by_name
def test_R4_extreme_inference_noise_is_an_error_not_nan(cls, iris):
    X, y = iris
    clf = fast(cls, inference_noise="same", noise_scale=0.2, n_inference_samples=4).fit(X, y)
    clf.set_params(inference_noise="cauchy", inference_noise_scale=1e38, n_inference_samples=64)
    with pytest.raises(ValueError, match="non-finite.*inference_noise_scale"):
        clf.predict_proba(X)


def test_R5_ctrl_c_during_the_ebm_calibration_leaves_an_unfitted_estimator(iris, monkeypatch):
    X, y = iris

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sknoise._runtime._tasks, "fit_temperature", interrupted)
    ebm = fast(NoisyEBMClassifier)
    with pytest.raises(KeyboardInterrupt):
        ebm.fit(X, y)
    with pytest.raises(NotFittedError):
        ebm.predict(X)


class InterruptMidEpoch(Callback):
    """Ctrl-C in the middle of the second epoch."""

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training and len(net.history) == 2 and len(net.history[-1]["batches"]) == 3:
            raise KeyboardInterrupt


@by_name
@pytest.mark.parametrize("how", ["ctrl_c", "divergence"])
def test_R6_a_pickled_model_never_carries_training_data(cls, how):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 50)).astype(np.float32)  # 4 MB
    y = (X[:, 0] > 0).astype(int)
    if how == "ctrl_c":
        clf = fast(cls, batch_size=256, max_epochs=3, callbacks=[InterruptMidEpoch()])
    else:  # diverges within an epoch, after some batches
        clf = fast(cls, batch_size=256, max_epochs=3, noise="cauchy", noise_scale=1e20, optimizer="sgd",
                   lr=1e-3, on_divergence="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert len(pickle.dumps(clf)) < 1_000_000


@by_name
def test_R7_monte_carlo_predictions_are_thread_safe(cls, iris):
    X, y = iris
    clf = fast(cls, noise_scale=0.4, inference_noise="same", n_inference_samples=8).fit(X, y)
    expected = clf.predict_proba(X)
    results = [None] * 8

    def work(i):
        results[i] = clf.predict_proba(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


@by_name
def test_R8_the_memory_budget_bounds_chunks_with_many_passes(cls, iris):
    X, y = iris
    clf = fast(cls, inference_noise="same", noise_scale=0.2, n_inference_samples=4000,
               inference_memory_mb=0.05).fit(X, y)
    seen = []
    original = clf.net_.module_.forward

    def spy(x):
        out = original(x)
        seen.append(out.numel() * 4 * 4)
        return out

    clf.net_.module_.forward = spy
    proba = clf.predict_proba(X[:3])
    assert np.isfinite(proba).all()
    assert max(seen) <= 0.05 * 2**20


@by_name
def test_R9_auto_batch_size_follows_each_partial_fit_call(cls, iris):
    X, y = iris
    rows = np.repeat(X, 14, axis=0)[:2000]
    labels = np.repeat(y, 14)[:2000]
    clf = cls(hidden_layer_sizes=(8,), early_stopping=False, random_state=0)
    clf.partial_fit(X[[0, 60]], y[[0, 60]], classes=[0, 1, 2])
    clf.partial_fit(rows, labels)
    assert len(clf.history_[-1]["batches"]) == int(np.ceil(2000 / 256))


@by_name
def test_R10_partial_fit_uses_the_current_training_parameters(cls, iris):
    X, y = iris
    clf = fast(cls, lr=1e-3).fit(X, y)
    clf.set_params(lr=0.05, weight_decay=1e-3)
    clf.partial_fit(X, y)
    group = clf.net_.optimizer_.param_groups[0]
    assert group["lr"] == 0.05 and group["weight_decay"] == 1e-3
    clf.set_params(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match=r"hidden_layer_sizes.*fit"):
        clf.partial_fit(X, y)


@by_name
@pytest.mark.parametrize(
    "params, name",
    [
        (dict(hidden_layer_sizes=(True,)), "hidden_layer_sizes"),
        (dict(optimizer=int), "optimizer"),
        (dict(device="meta"), "device"),
        (dict(device="bogus"), "device"),
        (dict(device="mps"), "device"),
        (dict(lr=True), "lr"),
        (dict(noise_scale=True), "noise_scale"),
        (dict(callbacks=[object()]), "callbacks"),
        (dict(activation=lambda x: "not a tensor"), "activation"),
    ],
)
def test_R11_unclear_errors_are_made_clear(cls, iris, params, name):
    X, y = iris
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        fast(cls, **params).fit(X, y)


@by_name
def test_R11_a_huge_memory_budget_works(cls, iris):
    X, y = iris
    clf = fast(cls, inference_noise="same", noise_scale=0.2, n_inference_samples=4,
               inference_memory_mb=1e308).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()


@by_name
@pytest.mark.parametrize("classes", [3, [[0, 1], [2, 3]]])
def test_R11_bad_classes_in_partial_fit_are_named(cls, iris, classes):
    X, y = iris
    with pytest.raises(ValueError, match=r"\bclasses\b"):
        fast(cls).partial_fit(X, y, classes=classes)


@by_name
def test_R11_datetime_columns_are_refused(cls, iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["when"] = pd.date_range("2020-01-01", periods=len(frame), freq="D")
    with pytest.raises((ValueError, TypeError), match="when"):
        fast(cls).fit(frame, y)


@by_name
def test_R12_ctrl_c_with_early_stopping_keeps_the_best_validation_epoch(cls, iris):
    X, y = iris

    class InterruptAfter(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 6:
                raise KeyboardInterrupt

    clf = cls(hidden_layer_sizes=(8,), max_epochs=50, n_iter_no_change=50, random_state=0,
              callbacks=[InterruptAfter()]).fit(X, y)
    assert clf.best_epoch_ == int(np.argmin(clf.validation_loss_curve_)) + 1
    readme = open("README.md").read()
    assert "best validation epoch" in readme and "trusted" in readme
